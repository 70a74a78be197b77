"""Recipe files (recipes/*.toml): every option named and parsed once, flags over recipe values, the inputs a recipe
makes, the report's record of the recipe; the tiny recipe end to end through ``edge-ocr compress --config``."""

from __future__ import annotations

import glob
import hashlib
import json
import os

import pytest

from edge_ocr.errors import EdgeOCRError
from tests.conftest import REPO, run_cli

RECIPES = sorted(glob.glob(os.path.join(REPO, "recipes", "*.toml")))


def _config(path: str, **overrides):
    from edge_ocr.host.quantize.compress.config import CompressConfig

    return CompressConfig.from_recipe(path, {"out": "/tmp/edge-ocr-recipe-test/out", **overrides})


def test_the_shipped_recipes_exist_and_name_every_option(shared):
    from edge_ocr.host.quantize.compress.config import OPTIONS, read_recipe

    names = {os.path.basename(p)[:-5] for p in RECIPES}
    assert {"ptq", "qat-distill", "qat-distill-latin", "tiny"} <= names
    recipe_options = {o.name for o in OPTIONS if o.group != "run"}
    for path in RECIPES:
        recipe = read_recipe(path)
        assert recipe["name"] == os.path.basename(path)[:-5]
        with open(path, encoding="utf-8") as handle:  # every option, set or deliberately unset
            written = {line.split("=")[0].strip().lstrip("# ").split(":")[0] for line in handle
                       if line.strip() and not line.startswith("[")}
        assert recipe_options <= written, (path, sorted(recipe_options - written))
        config = _config(path)
        assert not config.resume
        for spec in config.generate.values():  # inputs: complete, typed, their paths absolute
            for key in ("det-labels", "labels"):
                if key in spec:
                    assert os.path.isabs(spec[key])


def test_the_release_recipes_are_the_reported_runs(shared):
    """qat-distill.toml gives the training and PTQ options compress-qat-distill.json recorded (without its --resume),
    and reads the inputs its command named, now made by the recipe."""
    from edge_ocr.host.quantize.compress.api import ptq_options, train_options

    for name, result in (("qat-distill", "compress-qat-distill.json"),
                         ("qat-distill-latin", "compress-qat-distill-latin-int16.json")):
        config = _config(os.path.join(REPO, "recipes", f"{name}.toml"))
        with open(os.path.join(REPO, "benchmarks", "results", result), encoding="utf-8") as handle:
            report = json.load(handle)
        ours = dict(train_options(config).__dict__)
        theirs = dict(report["options"]["training"])
        for key in ("resume", "fallback_domains"):  # resume: never in a recipe; fallback: prune-qat only
            ours.pop(key), theirs.pop(key)
        assert ours.pop("seed") == 0
        assert ours == theirs
        ptq = dict(ptq_options(config).__dict__)
        reported = dict(report["options"]["ptq_cls"])
        assert ptq.pop("keep_fp32_first") == {"rec": 16} and reported.pop("keep_fp32_first") == {}  # cls only: none
        assert ptq.pop("seed") == 0 and ptq == reported
        command = report["command"].split()
        for path in config.calib_det + config.calib_rec:  # the same files, by their last two path parts
            assert any(arg.endswith(os.path.join(*path.split(os.sep)[-2:])) for arg in command), path
        assert ("--charset" in command) == (config.charset == "latin")
        assert {d.split(":")[0] for d in config.domain} == set(report["domains"]) - {"icdar2015"}


def test_flags_override_recipe_values_and_both_parse_the_same(tmp_path):
    from edge_ocr.host.quantize.compress.config import CompressConfig

    tiny = os.path.join(REPO, "recipes", "tiny.toml")
    config = _config(tiny, **{"rec-steps": "7", "keep-fp32-first": ["rec=4", "det=1"], "verify": False})
    assert config.rec_steps == 7 and config.det_steps == 2  # the flag's, and the recipe's
    assert config.keep_fp32_first == {"rec": 4, "det": 1} and config.verify is False
    assert set(config.overrides) == {"out", "rec-steps", "keep-fp32-first", "verify"}
    # a ROLE=N list (command line) and a table (recipe) are one rule
    from_flags = CompressConfig.from_values({}, overrides={"keep-fp32-first": ["rec=16", "cls=2"]})
    assert from_flags.keep_fp32_first == {"rec": 16, "cls": 2} == CompressConfig(keep_fp32_first={"rec": 16, "cls": 2}
                                                                                 ).keep_fp32_first
    recipe = tmp_path / "r.toml"
    recipe.write_text('name = "r"\n[compress]\nkeep-fp32-first = {rec = 16, cls = 2}\n')
    assert _config(str(recipe)).keep_fp32_first == from_flags.keep_fp32_first
    # what ships is the default: the recognizer's stem FP32, distillation only
    assert CompressConfig().keep_fp32_first == {"rec": 16} and CompressConfig().rec_label_weight == 0.0


@pytest.mark.parametrize("text, message", [
    ('[compress]\nkeep-fp32-first = {lstm = 2}\n', "names no role"),
    ('[compress]\nkeep-fp32-first = ["rec"]\n', "ROLE=VALUE"),
    ('[compress]\nrec-steps = 0\n', "at least 1"),
    ('[compress]\nlr = "fast"\n', "not a number"),
    ('[compress]\nrecipe = "magic"\n', "not one of"),
    ('[compress]\nresume = true\n', "runs from scratch"),
    ('[compress]\nout = "x"\n', "given when the recipe is run"),
    ('[compress]\nrec_steps_typo = 3\n', "unknown compress option"),
    ('[compress]\nmodels = "$HOME/models"\n', "unknown variable $HOME"),
    ('[compress]\n[inputs.a]\nkind = "synth"\ncolour = 1\n', "unknown keys colour"),
    ('[compress]\n[inputs.a]\nkind = "read-lines"\n', "needs det-labels"),
    ('[compress]\n[inputs.a]\nkind = "read-lines"\ndet-labels = "$INPUTS/b/labels.txt"\n', "no earlier"),
    ('[compress\n', "recipe file"),
    ('nme = "x"\n[compress]\n', "unknown top-level keys nme"),
])
def test_bad_recipes_are_refused_with_the_reason(tmp_path, text, message):
    recipe = tmp_path / "bad.toml"
    recipe.write_text(text)
    with pytest.raises(EdgeOCRError, match=message.replace("$", r"\$").replace("(", r"\(")):
        _config(str(recipe))


def test_recipe_paths_resolve_against_the_repository_shared_and_inputs(tmp_path, shared):
    recipe = tmp_path / "paths.toml"
    recipe.write_text('[compress]\nmodels = "$EDGE_OCR_SHARED/models/ppocrv2"\ncalib-det = ["data/x.txt"]\n'
                      'calib-rec = ["${INPUTS}/s/rec_train.txt"]\n'
                      'domain = ["zh:det=$INPUTS/s/e2e_dev.txt,rec=$INPUTS/s/rec_dev.txt", "td500"]\n'
                      '[inputs.s]\nkind = "synth"\n')
    config = _config(str(recipe), inputs=str(tmp_path / "made"))
    assert config.models == os.path.join(os.path.abspath(shared), "models", "ppocrv2")
    assert config.calib_det == [os.path.join(REPO, "data", "x.txt")]
    assert config.calib_rec == [str(tmp_path / "made" / "s" / "rec_train.txt")]
    assert config.domain[0] == f"zh:det={tmp_path}/made/s/e2e_dev.txt,rec={tmp_path}/made/s/rec_dev.txt"
    assert config.generate["s"]["train-phrases"] == 0.15 and config.generate["s"]["seed"] == 0  # defaults filled
    default = _config(str(recipe))  # without --inputs: beside the bundle
    assert default.inputs_dir == "/tmp/edge-ocr-recipe-test/out-artifacts/inputs"


def test_subset_inputs_are_made_once_and_kept_while_their_spec_holds(tmp_path, shared):
    from edge_ocr.host.quantize.compress.inputs import check_input_specs, make_inputs

    labels = os.path.join(shared, "data", "ic15_rec", "rec_gt_train.txt")
    specs = {"few": {"kind": "subset", "labels": labels, "first": 3}}
    check_input_specs(specs, str(tmp_path))
    made = make_inputs(specs, str(tmp_path), models="unused")
    rows = (tmp_path / "few" / "labels.txt").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 3 and all(os.path.isfile(row.split("\t")[0]) for row in rows)  # absolute image paths
    assert "kept_from_earlier_run" not in made["few"]
    assert made["few"]["label_files"]["labels.txt"] == hashlib.sha256(
        (tmp_path / "few" / "labels.txt").read_bytes()).hexdigest()
    assert make_inputs(specs, str(tmp_path), models="unused")["few"]["kept_from_earlier_run"]
    specs["few"]["first"] = 5  # another spec: made again
    assert "kept_from_earlier_run" not in make_inputs(specs, str(tmp_path), models="unused")["few"]
    assert len((tmp_path / "few" / "labels.txt").read_text(encoding="utf-8").splitlines()) == 5


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, shared):
    """``edge-ocr compress --config recipes/tiny.toml`` in a folder of its own, with one flag over the recipe."""
    out = tmp_path_factory.mktemp("tiny") / "bundle"
    proc = run_cli("compress", "--config", "recipes/tiny.toml", "--out", str(out), "--rec-steps", "3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(f"{out}-artifacts/report.json", encoding="utf-8") as handle:
        return str(out), json.load(handle)


@pytest.mark.slow
@pytest.mark.train
@pytest.mark.arm
def test_tiny_recipe_runs_end_to_end_and_the_report_records_it(tiny_run):
    out, report = tiny_run
    recipe = os.path.join(REPO, "recipes", "tiny.toml")
    with open(recipe, "rb") as handle:
        assert report["recipe_sha256"] == hashlib.sha256(handle.read()).hexdigest()
    assert report["recipe_file"] == recipe and report["recipe_name"] == "tiny"
    assert report["config"]["overrides"] == ["out", "rec-steps"]
    assert report["config"]["options"]["rec-steps"] == 3 and report["stages"]["rec"]["qat"]["steps"] == 3  # the flag
    assert report["stages"]["det"]["qat"]["steps"] == 2  # the recipe
    # every input was made by this run, inside its own folder
    assert set(report["inputs"]) == {"ic15_few", "ic15_rec_few", "synth", "lines"}
    for name, made in report["inputs"].items():
        assert not made.get("kept_from_earlier_run")
        assert os.path.isdir(os.path.join(f"{out}-artifacts", "inputs", name))
    assert report["inputs"]["lines"]["summary"]["train"]["images"] == 3  # read-lines on the subset, last one dev
    assert set(report["compressed"]) == {"icdar2015", "zh_synth"}
    assert report["verification"]["passed"] and report["verification"]["runtime"] == "qemu"
    assert report["precision"] == {"det": "int8", "cls": "int8", "rec": "int8"}
    assert report["command"].startswith("edge-ocr compress --config recipes/tiny.toml")


@pytest.mark.slow
@pytest.mark.arm
def test_a_registered_release_runs_by_name_and_a_tampered_one_is_refused(tiny_run, img11, tmp_path):
    """The registry machinery on the tiny recipe's bundle (registered in a temporary registry): models list shows
    it, predict --bundle NAME resolves it (emulated on x86, with its one note) and reads what the folder reads."""
    out, report = tiny_run
    registry = tmp_path / "releases.json"
    registry.write_text(json.dumps({"format": 1, "root": ".", "releases": []}))
    env = {"EDGE_OCR_RELEASES": str(registry)}
    with open(tmp_path / "report.json", "w", encoding="utf-8") as handle:
        json.dump(report, handle)
    # a verification of another bundle (its files' sha256 differ) is refused before anything is copied
    (tmp_path / "other.json").write_text(json.dumps(dict(report["verification"], bundle_files={"rec.nb": "0" * 64})))
    refused = run_cli("models", "add-release", out, "--name", "tiny-test", "--report", str(tmp_path / "report.json"),
                      "--verification", str(tmp_path / "other.json"), env=env)
    assert refused.returncode == 2 and "the verification report is not of" in refused.stderr, refused.stderr
    assert not (tmp_path / "bundles").exists() and json.loads(registry.read_text())["releases"] == []
    (tmp_path / "verify.json").write_text(json.dumps(report["verification"]))
    added = run_cli("models", "add-release", out, "--name", "tiny-test", "--report", str(tmp_path / "report.json"),
                    "--verification", str(tmp_path / "verify.json"), env=env)
    assert added.returncode == 0, added.stderr[-2000:]
    entry = json.loads(registry.read_text())["releases"][0]
    assert entry["folder"] == "bundles/tiny-test" and entry["recipe"]["sha256"] == report["recipe_sha256"]
    assert entry["bytes"] == report["bundle_bytes"] and entry["verified_on_arm"]["passed"]
    listing = run_cli("models", "list", env=env)
    assert listing.returncode == 0 and "tiny-test" in listing.stdout and "icdar2015: det_hmean" in listing.stdout
    assert f"{report['bundle_bytes'] / 1e6:.3f} MB" in listing.stdout
    by_name = run_cli("predict", "--bundle", "tiny-test", img11, "--json", str(tmp_path / "name.json"), env=env)
    assert by_name.returncode == 0, by_name.stderr[-2000:]
    assert by_name.stderr.count("edge-ocr: note:") == 1 and "returns NaN for int8" in by_name.stderr
    # the registered folder holds all but the official dictionary (taken from the official models): compare with
    # the bundle as compress wrote it
    assert sorted(os.listdir(tmp_path / "bundles" / "tiny-test")) == sorted(set(entry["files"]) - {"ppocr_keys_v1.txt"})
    by_folder = run_cli("predict", "--bundle", out, "--engine", "lite-qemu",
                        img11, "--json", str(tmp_path / "folder.json"), env=env)
    assert by_folder.returncode == 0, by_folder.stderr[-2000:]
    assert json.loads((tmp_path / "name.json").read_text()) == json.loads((tmp_path / "folder.json").read_text())
    with open(tmp_path / "bundles" / "tiny-test" / "rec.nb", "r+b") as handle:  # one byte changed
        handle.seek(4096)
        byte = handle.read(1)
        handle.seek(4096)
        handle.write(bytes([byte[0] ^ 1]))
    tampered = run_cli("predict", "--bundle", "tiny-test", img11, env=env)
    assert tampered.returncode == 2 and "rec.nb does not match its sha256" in tampered.stderr
    assert len(tampered.stderr.strip().splitlines()) == 1
