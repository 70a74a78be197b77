"""The ``edge-ocr`` command. Every user error ends in one line on stderr and a nonzero exit, never a traceback."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from collections.abc import Callable

from .errors import EdgeOCRError, OutputError, describe_os_error, printable

log = logging.getLogger("edge_ocr")

COMMANDS: dict[str, Callable[[argparse._SubParsersAction], None]] = {}


def command(name: str):
    """Register a function that adds sub-command ``name`` to the parser (it sets ``func``)."""

    def register(add: Callable[[argparse._SubParsersAction], None]):
        COMMANDS[name] = add
        return add

    return register


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


def name_value_pairs(items: list[str], option: str, what: str = "NAME=PATH") -> list[tuple[str, str]]:
    """``NAME=VALUE`` option arguments as pairs; a clear error for anything else."""
    pairs = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise EdgeOCRError(f"{option} takes {what}, not {item!r}")
        pairs.append((name, value))
    return pairs


def unit_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {text}")
    return value


def write_json_atomic(path: str, data) -> None:
    """Write JSON through a temp file and a rename, so an existing file is never left half-written."""
    from .atomic import write_json

    try:
        write_json(path, data)
    except OSError as exc:
        raise EdgeOCRError(f"cannot write {path}: {exc.strerror or exc}") from exc


def check_input_paths(paths: list[str]) -> None:
    """Every path exists and can be reached: one precise line for the first that cannot (a missing file, a path
    too long for the system, a symbolic link loop, a permission)."""
    from .images import display_path

    for path in paths:
        try:
            os.stat(path)
        except OSError as exc:
            raise EdgeOCRError(f"{display_path(path)}: {describe_os_error(exc)}") from None
        except ValueError:  # an embedded NUL byte
            raise EdgeOCRError(f"{display_path(path)}: not a valid path (it contains a NUL byte)") from None


def files_under(*roots: str | None) -> list[str]:
    """Every file at or under each given path (None and missing paths skipped): a run's inputs, for
    ``check_outputs_apart``."""
    found: list[str] = []
    for root in roots:
        if not root:
            continue
        if os.path.isfile(root):
            found.append(root)
        elif os.path.isdir(root):
            for folder, _, names in os.walk(root):
                found.extend(os.path.join(folder, name) for name in names)
    return found


def model_files(args: argparse.Namespace) -> list[str]:
    """The files a run reads its models from (--models, --bundle folder, --det-model): inputs too, that no output
    may replace."""
    return files_under(getattr(args, "models", None), getattr(args, "bundle", None), getattr(args, "det_model", None))


def check_outputs_apart(outputs: list[tuple[str, str]], inputs) -> None:
    """Refuse, before any work, an output that is one of the run's inputs (the same file by device and inode: also
    through another spelling of its path or a hard link) or another output of the same run. ``outputs`` are
    (option, path) pairs; ``inputs`` any paths the run reads."""
    from .images import display_path

    def identity(path: str):
        try:
            info = os.stat(path)
        except (OSError, ValueError):
            return None
        return info.st_dev, info.st_ino

    read = {}
    for path in inputs:
        key = identity(path)
        if key is not None:
            read.setdefault(key, path)
    written: dict = {}
    for option, path in outputs:
        key = identity(path)
        if key is not None and key in read:
            raise OutputError(f"{option} {display_path(path)} is an input of this run ({display_path(read[key])}): "
                              "refusing to overwrite it")
        for other in {key, ("path", os.path.realpath(path))} - {None}:
            if other in written:
                raise OutputError(f"{option} {display_path(path)} is also the target of {written[other]}: give "
                                  "each output its own file")
            written[other] = option


def add_model_args(parser: argparse.ArgumentParser) -> None:
    """--models / --bundle / --engine / --threads / --power-mode / --no-cls, shared by predict, eval and bench."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--models", metavar="DIR",
                        help="folder of inference models (default: PP-OCRv2, pulled on first use)")
    source.add_argument("--bundle", metavar="DIR|NAME", help="bundle written by 'edge-ocr export' (Paddle Lite .nb), "
                        "or a released bundle's name ('edge-ocr models list')")
    parser.add_argument("--engine", choices=("auto", "paddle", "lite", "lite-qemu"), default="auto",
                        help="auto: Paddle Inference for --models, Paddle Lite for --bundle; lite-qemu: ARM models "
                             "on this x86 host through Paddle Lite's aarch64 library under qemu (emulated)")
    parser.add_argument("--threads", type=positive_int, default=2, help="CPU threads per model (default 2)")
    parser.add_argument("--power-mode", choices=("LITE_POWER_HIGH", "LITE_POWER_LOW", "LITE_POWER_FULL",
                                                 "LITE_POWER_NO_BIND"), help="Paddle Lite power mode (ARM builds)")
    parser.add_argument("--no-cls", action="store_true", help="skip the direction classifier")
    parser.add_argument("--det-model", metavar="PATH", help="use this det model (folder or .nb) instead of the set's")
    group = parser.add_argument_group("thresholds (PaddleOCR's PP-OCRv2 defaults)")
    group.add_argument("--det-limit-side-len", type=positive_int, help="longest side for detection (960)")
    group.add_argument("--det-thresh", type=unit_float, help="DB pixel threshold (0.3)")
    group.add_argument("--det-box-thresh", type=unit_float, help="DB box score threshold (0.6)")
    group.add_argument("--det-unclip-ratio", type=float, help="DB unclip ratio (1.5)")
    group.add_argument("--cls-thresh", type=unit_float, help="rotate a crop when 180 scores above this (0.9)")
    group.add_argument("--drop-score", type=unit_float, help="drop lines recognised below this score (0.5)")
    group.add_argument("--rec-batch-size", type=positive_int, help="recognition batch size (6)")


def pipeline_options(args: argparse.Namespace):
    """The shared model arguments (``add_model_args``) as ``PipelineOptions``."""
    from .pipeline_options import PipelineOptions

    return PipelineOptions(
        models=args.models, bundle=args.bundle, engine=args.engine, threads=args.threads,
        power_mode=args.power_mode, use_cls=not args.no_cls, det_model=args.det_model,
        det_limit_side_len=args.det_limit_side_len, det_thresh=args.det_thresh, det_box_thresh=args.det_box_thresh,
        det_unclip_ratio=args.det_unclip_ratio, cls_thresh=args.cls_thresh, drop_score=args.drop_score,
        rec_batch_size=args.rec_batch_size)


_noted: set[str] = set()


def _note(message: str) -> None:
    """One line on stderr, once per run (every worker's pipeline would repeat it)."""
    if message not in _noted:
        _noted.add(message)
        print(f"edge-ocr: note: {printable(message)}", file=sys.stderr)


def build_pipeline(args: argparse.Namespace):
    """An ``OCRPipeline`` from the shared model arguments, with threshold overrides applied (``--bundle`` also
    takes a released bundle's name: edge_ocr/releases.json)."""
    from .pipeline_options import open_pipeline

    return open_pipeline(pipeline_options(args), notify=_note)


# ------------------------------------------------------------------------------------------------ predict

# Each worker builds its own pipeline (about 200 MB of FP32 predictors, measured with benchmarks/image_bombs.py),
# while decodes run one at a time (edge_ocr.images): with 2 workers a folder of 64 MP images stays under 1.5 GB.
_WORKERS_ENV = os.environ.get("EDGE_OCR_MAX_WORKERS", "")
MAX_WORKERS = int(_WORKERS_ENV) if _WORKERS_ENV.isdigit() and int(_WORKERS_ENV) > 0 else 2


@command("predict")
def _add_predict(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("predict", help="OCR images or folders of images")
    parser.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR")
    add_model_args(parser)
    parser.add_argument("--json", metavar="OUT.json", help="write all results as JSON")
    parser.add_argument("--draw", metavar="OUT_DIR", help="write each image with its boxes and texts")
    parser.add_argument("--workers", type=positive_int,
                        help="pipelines run in parallel on a folder, sharing --threads (default: one per thread)")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.set_defaults(func=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .atomic import check_output_file
    from .images import display_path, list_images
    from .parallel import PipelinePool, split_threads

    check_input_paths(args.inputs)
    paths = list_images(args.inputs)
    if not paths:
        raise EdgeOCRError("no images found in " + ", ".join(map(display_path, args.inputs)))
    # Every output target is checked before any OCR: a run never ends at an output it cannot write, and never
    # writes over one of its inputs.
    inputs = paths + model_files(args)
    if args.json:
        check_outputs_apart([("--json", args.json)], inputs)
        check_output_file(args.json)
    drawings = plan_drawings(paths, args.draw, inputs, args.json) if args.draw else {}
    total_threads = args.threads
    workers, args.threads = split_threads(total_threads, len(paths), args.workers)
    if workers > MAX_WORKERS:
        if args.workers:
            _note(f"--workers {workers} capped to {MAX_WORKERS}: each worker holds its own models (about 200 MB), "
                  "and the cap keeps a run under 1.5 GB (EDGE_OCR_MAX_WORKERS raises it)")
        workers, args.threads = split_threads(total_threads, len(paths), MAX_WORKERS)
    factory = pipeline_factory(args)
    first = factory()  # model errors surface here, before any worker starts
    log.info("%d worker(s) x %d thread(s)", workers, args.threads)
    results, failed = [], 0
    show_bar = len(paths) > 1 and not args.quiet
    with PipelinePool(factory, workers) as pool:
        for path, result in tqdm(zip(paths, pool.map(paths)), total=len(paths), desc="ocr", unit="img",
                                 disable=not show_bar, file=sys.stderr):
            if drawings and not result.error:
                _draw(first, path, result, drawings[path])
            results.append(result)
            failed += bool(result.error)
            _report(result, args, show_bar)
    if args.json and not write_or_print(args.json, [r.to_dict() for r in results], "--json"):
        return 1
    if failed:
        where = f"; the JSON has every result and each error ({args.json})" if args.json else ""
        print(printable(f"edge-ocr: {failed} of {len(paths)} image(s) failed{where}"), file=sys.stderr)
        return 1
    return 0


def write_or_print(path: str, data, option: str) -> bool:
    """Write ``data`` as JSON to ``path``; if that fails after the work was done, print it on stdout instead (the
    work is not lost), say so in one line, and return False (the run then exits 1)."""
    import json

    try:
        write_json_atomic(path, data)
        return True
    except EdgeOCRError as exc:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        print(f"edge-ocr: error: {printable(exc)}; {option} was printed on stdout instead", file=sys.stderr)
        return False


def plan_drawings(paths: list[str], out_dir: str, inputs: list[str] = (), json_path: str | None = None
                  ) -> dict[str, str]:
    """Where each input's drawing goes: ``STEM_ocr.jpg``, then ``STEM_ocr-2.jpg``... for inputs with the same
    stem (same name in two folders, or a.jpg beside a.png), so no drawing overwrites another of the same run. The
    folder is made and every target checked (``check_outputs_apart``: never an input or the --json file, then
    ``check_output_file``) before any work."""
    from .atomic import check_output_file

    if os.path.lexists(out_dir) and not os.path.isdir(out_dir):
        raise EdgeOCRError(f"--draw {out_dir} is not a folder")
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise EdgeOCRError(f"cannot create --draw folder {out_dir}: {exc.strerror}") from None
    targets: dict[str, str] = {}
    taken: set[str] = set()
    for path in paths:
        stem = os.path.splitext(os.path.basename(path))[0]
        name, copy = f"{stem}_ocr.jpg", 1
        while name.casefold() in taken:  # casefold: case-insensitive file systems too
            copy += 1
            name = f"{stem}_ocr-{copy}.jpg"
        taken.add(name.casefold())
        targets.setdefault(path, os.path.join(out_dir, name))
    check_outputs_apart([("--json", json_path)] * bool(json_path) + [("--draw", t) for t in targets.values()],
                        list(inputs))
    for target in targets.values():
        check_output_file(target)
    return targets


def pipeline_factory(args: argparse.Namespace):
    """A thread-safe factory: the first call builds a pipeline, later calls build more (one per worker)."""
    lock = threading.Lock()
    built: list = []

    def factory():
        with lock:  # predictor creation is serialised; only inference runs in parallel
            if len(built) == 1 and not getattr(factory, "handed", False):
                factory.handed = True
                return built[0]
            pipeline = build_pipeline(args)
            if not built:
                built.append(pipeline)
            return pipeline

    return factory


def _report(result, args: argparse.Namespace, show_bar: bool) -> None:
    from tqdm import tqdm

    write = tqdm.write if show_bar else print
    if result.error:
        write(f"edge-ocr: {printable(result.error)}", file=sys.stderr)
    if not args.quiet and (result.lines or not result.error):
        text = "\n".join(f"  {printable(line.text)}\t{line.score:.3f}" for line in result.lines)
        name = printable(result.image)
        write(f"{name}\n{text}" if text else f"{name}\n  (no text)")


def _draw(pipeline, path: str, result, target: str) -> None:
    """Write ``result`` drawn on its image to ``target``; a failure is recorded on the result, never raised."""
    from .draw import draw_result, write_image
    from .errors import one_line
    from .images import load_image

    try:
        loaded = load_image(path, pipeline.params.max_image_pixels)
        lines = result.lines
        if loaded.scale != 1.0:  # draw on the reduced image
            lines = [type(line)([[round(x / loaded.scale), round(y / loaded.scale)] for x, y in line.box],
                                line.text, line.score) for line in lines]
        write_image(target, draw_result(loaded.image, lines))
    except Exception as exc:  # a full disk or a target swapped for a link loses the drawing, not the run
        result.error = f"{result.image}: drawing not written to {target} ({one_line(exc)})"


# ------------------------------------------------------------------------------------------------ models


@command("models")
def _add_models(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("models", help="pull, verify and list the official PP-OCRv2 models")
    msub = parser.add_subparsers(dest="models_command", required=True)
    pull = msub.add_parser("pull", help="download (or copy from a mirror) and verify a model set")
    pull.add_argument("--from", dest="mirror", metavar="MIRROR_DIR",
                      help="local folder laid out like the unpacked official tars (default: $EDGE_OCR_MODEL_MIRROR)")
    pull.add_argument("--cache", metavar="DIR", help="cache folder (default: $EDGE_OCR_CACHE or ~/.cache/edge-ocr)")
    pull.add_argument("--set", default="ppocrv2", help="model set (default ppocrv2)")
    pull.add_argument("--force", action="store_true", help="fetch again even if installed")
    pull.set_defaults(func=run_models_pull)
    check = msub.add_parser("verify", help="re-check the sha256 of every file of an installed set")
    check.add_argument("folder", nargs="?", help="installed set (default: the cached default set)")
    check.add_argument("--set", default="ppocrv2")
    check.set_defaults(func=run_models_verify)
    listing = msub.add_parser("list", help="list the registries: the official models (files, URLs, sha256) and the "
                                           "released bundles (size, accuracy per domain, how they were made)")
    listing.set_defaults(func=run_models_list)
    release = msub.add_parser("add-release", help="copy a compress run's bundle to bundles/NAME and list it in the "
                                                  "release registry (edge_ocr/releases.json or $EDGE_OCR_RELEASES)")
    release.add_argument("bundle", metavar="BUNDLE_DIR")
    release.add_argument("--name", required=True)
    release.add_argument("--report", required=True, metavar="REPORT.json", help="the compress report of that run")
    release.add_argument("--description", default="")
    release.add_argument("--verification", metavar="VERIFY.json",
                         help="an `edge-ocr verify --json` report of this bundle (e.g. on photos of every domain) to "
                              "record instead of the compress run's own")
    release.add_argument("--registry", metavar="FILE", help="registry file (default: edge_ocr/releases.json)")
    release.set_defaults(func=run_models_add_release)


def run_models_pull(args: argparse.Namespace) -> int:
    from .models import pull

    print(pull(args.set, mirror=args.mirror, cache=args.cache, force=args.force))
    return 0


def run_models_verify(args: argparse.Namespace) -> int:
    from .models import default_cache_dir, verify

    folder = args.folder or os.path.join(default_cache_dir(), args.set)
    verify(folder, args.set)
    print(f"{folder}: all files match their sha256")
    return 0


def run_models_list(args: argparse.Namespace) -> int:
    from .models import MODEL_SETS
    from .releases import describe, load_releases

    for name, artifacts in MODEL_SETS.items():
        print(f"{name} (official FP32 models)")
        for artifact in artifacts:
            print(f"  {artifact.role:4s} {artifact.url}")
            for rel, digest in artifact.sha256.items():
                print(f"       {digest}  {rel}")
    releases = load_releases()
    print(f"released bundles ({len(releases)}; run one with --bundle NAME)" + ("" if releases else ": none yet"))
    for name, release in releases.items():
        print(name)
        for line in describe(release):
            print(line)
    return 0


def run_models_add_release(args: argparse.Namespace) -> int:
    import json

    from .releases import add_release, describe

    def read(path: str) -> dict:
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError) as exc:
            raise EdgeOCRError(f"cannot read the report {path}: {exc}") from None
        if not isinstance(data, dict):
            raise EdgeOCRError(f"{path} is not a report (a JSON object)")
        return data

    release = add_release(args.name, args.bundle, read(args.report), args.registry, args.description,
                          read(args.verification) if args.verification else None)
    print(f"{release.name}: {release.folder}")
    for line in describe(release):
        print(line)
    return 0


# ------------------------------------------------------------------------------------------------ main


def _load_plugins() -> None:
    """Sub-commands that live in other modules register themselves on import."""
    import importlib

    for module in ("edge_ocr.evaluation.cli", "edge_ocr.bench.cli", "edge_ocr.host.export.cli",
                   "edge_ocr.host.quantize.nets.cli", "edge_ocr.host.quantize.train.cli",
                   "edge_ocr.host.quantize.compress.cli"):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            if exc.name and module.startswith(exc.name):
                continue
            raise


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    _load_plugins()
    parser = argparse.ArgumentParser(
        prog="edge-ocr", description="PP-OCRv2 on the edge: predict, evaluate, compress, export"
    )
    parser.add_argument("--version", action="version", version=f"edge-ocr {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in COMMANDS.values():
        add(sub)
    return parser


class Terminated(BaseException):
    """SIGTERM or SIGHUP, raised in the main thread so that every ``finally`` removes its temporary files and
    folders (a model pull's staging folder, a ``.tmp`` file) before the process ends."""


def _terminate(signum: int, frame) -> None:
    raise Terminated(signum)


class _LineHandler(logging.Handler):
    """Log records as one escaped line each, written with ``tqdm.write`` so that a warning never lands after a
    progress bar's carriage return on the bar's own line."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(printable(self.format(record)), file=sys.stderr)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


def _own_stderr():
    """Python's stderr moved to a duplicate of file descriptor 2, so that what C decoders print on fd 2 can be
    captured around each decode (edge_ocr.images) while edge-ocr's own lines still reach the terminal. Returns
    the stream to restore, or None where stderr is not a real file descriptor (a test's capture)."""
    import io

    try:
        if sys.stderr.fileno() != 2:
            return None
        sys.stderr.flush()
        duplicate = os.dup(2)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None
    previous = sys.stderr
    sys.stderr = io.TextIOWrapper(io.FileIO(duplicate, "w"), encoding=previous.encoding or "utf-8",
                                  errors="backslashreplace", line_buffering=True)
    return previous


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("GLOG_minloglevel", "2")  # silence Paddle's C++ logging
    for stream in (sys.stdout, sys.stderr):  # a text or file name the terminal cannot encode is escaped, not fatal
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    previous_stderr = _own_stderr()
    try:
        return _main(argv)
    finally:
        if previous_stderr is not None:
            mine, sys.stderr = sys.stderr, previous_stderr
            mine.close()  # flushes, and closes the duplicate descriptor


def _main(argv: list[str] | None) -> int:
    import signal

    parser = build_parser()
    args = parser.parse_args(argv)
    handler = _LineHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, handlers=[handler])
    handled = (signal.SIGTERM, signal.SIGHUP) if threading.current_thread() is threading.main_thread() else ()
    previous = {sig: signal.signal(sig, _terminate) for sig in handled}
    try:
        return args.func(args)
    except EdgeOCRError as exc:
        print(f"edge-ocr: error: {printable(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("edge-ocr: interrupted", file=sys.stderr)
        return 130
    except Terminated as exc:
        print(f"edge-ocr: terminated by signal {exc.args[0]}", file=sys.stderr)
        return 128 + exc.args[0]
    except Exception as exc:  # anything else is our bug: still one line, with EDGE_OCR_DEBUG=1 for the traceback
        if os.environ.get("EDGE_OCR_DEBUG"):
            raise
        reason = printable(str(exc).strip().splitlines()[0]) if str(exc).strip() else ""
        print(f"edge-ocr: error: {type(exc).__name__}: {reason} (set EDGE_OCR_DEBUG=1 for details)", file=sys.stderr)
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":  # pragma: no cover - ``python -m edge_ocr`` is the supported form
    from edge_ocr.cli import main as _main  # the package's module, so plugins register on the same registry

    sys.exit(_main())
