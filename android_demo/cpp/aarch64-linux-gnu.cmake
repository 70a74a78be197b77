# Cross-compile the core for 64-bit ARM Linux (Raspberry Pi 4/5 with a 64-bit OS):
#   cmake -S android_demo/cpp -B build-arm -DCMAKE_TOOLCHAIN_FILE=android_demo/cpp/aarch64-linux-gnu.cmake \
#         -DPADDLE_LITE_DIR=/path/to/inference_lite_lib.armlinux.armv8/cxx
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig)
