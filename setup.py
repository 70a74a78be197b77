from setuptools import find_packages, setup

setup(
    name="edge-ocr",
    version="0.1.0",
    description="PP-OCRv2 from FP32 models to small, fast, verified Paddle Lite bundles for phones and ARM boards",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.8,<3.12",
    packages=find_packages(include=["edge_ocr", "edge_ocr.*", "quantize", "quantize.*", "export", "export.*"]),
    package_data={"edge_ocr.engines": ["nb_format.json"]},  # the .nb format the verifier reads
    install_requires=[
        "numpy>=1.21,<2",
        "opencv-python-headless>=4.5",
        "pyclipper==1.3.0.post6",  # 1.4.0 fails to import after paddle (zlib)
        "tqdm>=4.60",
        "Pillow>=9",  # text rendering for --draw (CJK fonts)
        "tomli>=1.1; python_version<'3.11'",  # recipe files (recipes/*.toml); 3.11+ has tomllib
        "paddlelite==2.13rc0; platform_machine=='x86_64' and python_version>='3.8'",
    ],
    extras_require={
        # Host side: Paddle Inference engine, quantization (PaddleSlim) and opt.
        "host": [
            "paddlepaddle==2.6.2",
            "paddleslim==2.6.0",
            "paddlelite==2.13rc0",
            "flatbuffers>=23.5",  # export.nb_compact rewrites the .nb program
            "requests",  # paddleslim imports it without declaring it
            "matplotlib>=3.5",
        ],
        "test": ["pytest>=7", "ruff>=0.4", "hypothesis>=6.100"],  # hypothesis: tests/test_properties.py
    },
    entry_points={"console_scripts": ["edge-ocr=edge_ocr.cli:main"]},
)
