"""`ganforge eval` and train.eval_every for the translation tasks (task_eval.SCORERS): tiny paired,
superres and inpaint runs scored on their held-out images beside a baseline, with provenance; one
score checked against scikit-image directly; the one-line errors."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from ganforge import config
from ganforge.cli import main
from ganforge.data import build_paired
from ganforge.errors import ConfigError, GanforgeError
from ganforge.evaluation import evaluate_run
from ganforge.task_eval import SCORERS

N = 12  # held-out images scored by `ganforge eval -n` (conftest's translation_runs)
TASKS = ["paired", "superres", "inpaint", "unpaired"]


@pytest.fixture(scope="module")
def runs(translation_runs):
    return translation_runs[0]


@pytest.fixture(scope="module")
def specs(translation_runs):
    return translation_runs[1]


@pytest.mark.parametrize("task", TASKS)
def test_eval_scores_the_held_out_images_beside_the_baseline(runs, specs, task):
    _, _, method, names = specs[task]
    ev = json.loads((runs / task / "eval.json").read_text())
    assert ev["task"] == task and ev["checkpoint_step"] == 4 and ev["computed"] == names
    for name in names:
        entry = ev["metrics"][name]
        assert np.isfinite(entry[name]) and np.isfinite(entry["baseline"][name])
        assert entry["baseline"]["method"] == method
        prov = entry["provenance"]
        assert prov["held_out_images"] == N and prov["checkpoint_step"] == 4 and prov["seed"] == 12345
        assert prov["generator"] in ("ema", "g") and prov["checkpoint"].endswith("step_0000004.safetensors")
        assert {"ganforge", "torch"} <= set(prov["versions"]) and prov["time"] and prov["statistic"]
        assert "held-out" in prov["inputs"] and prov["baseline"]
    logged = [json.loads(ln) for ln in (runs / task / "metrics.jsonl").read_text().splitlines()]
    evals = [rec for rec in logged if "eval" in rec]
    assert [rec["step"] for rec in evals] == [2, 4] and all(list(rec["eval"]) == names for rec in evals)


def test_the_identity_baseline_is_scikit_images_psnr_on_the_same_arrays(runs):
    """Independently: the first N held-out glyph pairs as uint8 arrays, skimage's PSNR per image."""
    cfg = config.load(str(runs / "paired" / "config.yaml"))
    test = build_paired(cfg.data).test
    a = test.a[:N].numpy().astype(np.float64) / 255
    b = test.b[:N].numpy().astype(np.float64) / 255
    expected = np.mean([peak_signal_noise_ratio(t, o, data_range=1.0) for o, t in zip(a, b, strict=True)])
    psnr = json.loads((runs / "paired" / "eval.json").read_text())["metrics"]["psnr"]
    assert psnr["baseline"]["psnr"] == pytest.approx(expected, rel=1e-6)


def test_the_cli_prints_one_line_per_score_and_json_has_the_headline(runs, tmp_path, capsys):
    run = shutil.copytree(runs / "superres", tmp_path / "superres")  # the shared run's eval.json stays
    assert main(["eval", str(run), "-n", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"psnr", "ssim", "l1", "metrics"} and out["psnr"] == out["metrics"]["psnr"]["psnr"]
    assert main(["eval", str(run), "-n", "4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("  psnr ") and "beside bicubic" in lines[1]
    assert lines[1].endswith("(4 held-out images)")


def test_fid_in_a_named_feature_space_beside_the_baseline(runs):
    r = evaluate_run(runs / "inpaint", n=N, features="pixels:4", write=False)
    fid = r["metrics"]["fid"]
    assert fid["fid"] >= 0 and fid["baseline"]["fid"] >= 0 and fid["baseline"]["method"] == "biharmonic"
    assert fid["provenance"]["features"]["name"] == "pixels:4"
    assert r["eval_json"] is None


def test_the_same_scorer_gives_the_same_scores(runs):
    """A scorer is built once (held-out data, baseline) and called per checkpoint: same G, same scores."""
    from ganforge.evaluation import load_task
    from ganforge.task_eval import EvalRequest
    from ganforge.training.state import load_generator

    ckpt, g = load_generator(runs / "inpaint")
    scorer = SCORERS.get("inpaint")(load_task(ckpt.config), EvalRequest(ckpt.config, 6, 3))
    assert scorer(g).scalars == scorer(g).scalars


@pytest.mark.parametrize(("kwargs", "what"), [({"metrics": "fid"}, "--metrics"), ({"ref": "mnist"}, "--ref"),
                                              ({"n": 20_000}, "-n must be in 1..10,000")])
def test_options_that_do_not_apply_are_one_line_errors(runs, kwargs, what):
    with pytest.raises(GanforgeError) as e:
        evaluate_run(runs / "paired", write=False, **kwargs)
    assert what in str(e.value) and "\n" not in str(e.value)


def test_eval_metrics_is_refused_for_a_translation_task_and_eval_every_is_not():
    base = ["task.kind=paired", "data.name=glyphs"]
    with pytest.raises(ConfigError, match="eval.metrics does not apply to task.kind=paired"):
        config.load(None, [*base, "eval.metrics=fid"])
    assert config.load(None, [*base, "train.eval_every=10"]).train.eval_every == 10


def test_a_run_whose_data_is_gone_is_a_one_line_error(tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8)).save(folder / f"im{i}.png")
    run = tmp_path / "run"
    tiny = [f"--set={kv}" for kv in ("train.steps=2", "train.batch_size=4", "g.width=4", "d.width=4",
                                     "data.size=16", "train.plot_every=0", "data.name=photos-folder")]
    assert main(["train", "configs/inpaint-fashion.yaml", "--out", str(run), "--quiet", *tiny,
                 "--set", f"data.path={folder}"]) == 0
    shutil.rmtree(folder)
    capsys.readouterr()
    assert main(["eval", str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot evaluate: the run's data is unavailable" in err[0]
    assert not (run / "eval.json").exists()  # nothing written


def test_unpaired_glyph_accuracy_uses_every_character_of_the_target_font(runs):
    """The templates gathered from the unpaired run's halves and truths are the target font's renders of
    every character, as rendering the set whole gives them; the identity's score is recomputed."""
    import torch

    from ganforge.data import build_unpaired, load_paired
    from ganforge.data.images import to_float
    from ganforge.metrics.glyphs import GlyphClassifier
    from ganforge.task_eval.unpaired import glyph_templates

    cfg = config.load(str(runs / "unpaired" / "config.yaml"))
    data = build_unpaired(cfg.data)
    whole = load_paired("glyphs", size=cfg.data.size, every=0)
    assert torch.equal(glyph_templates(data, "b"), to_float(whole.b))
    assert torch.equal(glyph_templates(data, "a"), to_float(whole.a))
    a, labels = to_float(data.test.a[:N]), data.test.labels_a[:N]
    expected = GlyphClassifier(to_float(whole.b)).accuracy(a, labels)
    acc = json.loads((runs / "unpaired" / "eval.json").read_text())["metrics"]["AtoB_glyph_acc"]
    assert acc["baseline"]["AtoB_glyph_acc"] == pytest.approx(expected) and 0 < expected < 1
    assert "glyph classifier" in acc["provenance"]["statistic"]
