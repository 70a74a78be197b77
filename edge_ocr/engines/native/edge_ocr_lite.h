/* edge_ocr_lite: a small C ABI over Paddle Lite's C++ light API, loaded by edge_ocr with ctypes on ARM.
 *
 * One predictor per .nb model. Every call returns 0 (or a valid pointer) on success; on failure it returns a
 * negative number (or NULL) and eol_last_error() says why. Tensors are float32, row-major.
 */
#ifndef EDGE_OCR_LITE_H_
#define EDGE_OCR_LITE_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EOL_ABI_VERSION 1
#define EOL_MAX_DIMS 8

typedef struct eol_predictor eol_predictor;

/* The ABI version this library implements (EOL_ABI_VERSION); the Python side refuses another one. */
int eol_abi_version(void);

/* The reason for the last failure on this thread ("" when none). */
const char* eol_last_error(void);

/* power_mode: Paddle Lite's PowerMode (0 HIGH, 1 LOW, 2 FULL, 3 NO_BIND). threads >= 1. */
eol_predictor* eol_create_from_file(const char* nb_path, int threads, int power_mode);
eol_predictor* eol_create_from_buffer(const void* data, size_t size, int threads, int power_mode);
void eol_destroy(eol_predictor* predictor);

/* The Paddle Lite runtime's version string (a release name, or a commit hash for builds between releases). */
const char* eol_runtime_version(eol_predictor* predictor);

int eol_input_count(eol_predictor* predictor);
int eol_output_count(eol_predictor* predictor);

/* Copies `data` (product of shape[0..ndim) floats) into input `index`. */
int eol_set_input(eol_predictor* predictor, int index, const float* data, const int64_t* shape, int ndim);
int eol_run(eol_predictor* predictor);

/* Writes up to max_dims dims of output `index` into shape and returns ndim (negative on failure). */
int eol_output_shape(eol_predictor* predictor, int index, int64_t* shape, int max_dims);
/* Copies output `index` into dst, which holds `capacity` floats; fails when the output is larger. */
int eol_copy_output(eol_predictor* predictor, int index, float* dst, int64_t capacity);

#ifdef __cplusplus
}
#endif

#endif  // EDGE_OCR_LITE_H_
