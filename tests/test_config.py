from pathlib import Path

import pytest

from polyforge.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "campaign.yaml"
    path.write_text(text)
    return path


def test_example_config_loads_and_resolves_sources_against_its_folder():
    config = load_config(ROOT / "examples" / "campaign.yaml")
    assert config.sources[0].instructions == (ROOT / "examples" / "tasks.jsonl").resolve()
    assert config.sources[1].path == (ROOT / "examples" / "sample_repo").resolve()
    assert config.models.generator.backend == "embedded"
    assert config.judge_model is config.models.generator


def test_unknown_key_is_named(tmp_path):
    path = write(tmp_path, "sources: [{path: .}]\nbudgets: {max_pair: 3}\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert str(path) in message
    assert "budgets.max_pair" in message and "unknown key" in message


def test_wrong_type_names_key_and_value(tmp_path):
    path = write(tmp_path, "sources: [{path: .}]\nconcurrency: many\n")
    with pytest.raises(ConfigError, match=r"concurrency: .*integer.*found 'many'"):
        load_config(path)


def test_out_of_range_value(tmp_path):
    path = write(tmp_path, "sources: [{path: .}]\nsampling: {judge: {temperature: 5}}\n")
    with pytest.raises(ConfigError, match=r"sampling\.judge\.temperature"):
        load_config(path)


def test_missing_sources(tmp_path):
    with pytest.raises(ConfigError, match=r"sources: Field required"):
        load_config(write(tmp_path, "name: x\n"))


def test_openai_backend_needs_base_url_and_model(tmp_path):
    path = write(tmp_path, "sources: [{path: .}]\nmodels: {generator: {backend: openai, model: m}}\n")
    with pytest.raises(ConfigError, match=r"models\.generator.*base_url"):
        load_config(path)


def test_engine_args_belong_to_the_vllm_backend(tmp_path):
    path = write(tmp_path, "sources: [{path: .}]\nmodels: {generator: {engine_args: {enforce_eager: true}}}\n")
    with pytest.raises(ConfigError, match=r"models\.generator.*engine_args.*vllm backend only.*'embedded'"):
        load_config(path)
    path = write(tmp_path, "sources: [{path: .}]\nmodels: {generator: {backend: vllm, engine_args: {enforce_eager: true}}}\n")
    assert load_config(path).models.generator.engine_args == {"enforce_eager": True}


def test_not_a_mapping_and_bad_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "sources: [\n"))
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_cli_reports_config_error_without_traceback(tmp_path):
    from typer.testing import CliRunner

    from polyforge.cli import app

    path = write(tmp_path, "sources: [{path: .}]\nconcurrency: 0\n")
    result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == 2
    assert "concurrency" in result.output and "Traceback" not in result.output


def test_sources_take_a_folder_or_a_git_url_and_ingest_settings_are_checked(tmp_path):
    config = load_config(write(tmp_path, "sources: [{url: 'https://github.com/o/r.git'}, {path: code}]\n"))
    assert [source.location for source in config.sources] == ["https://github.com/o/r.git", str(tmp_path / "code")]
    with pytest.raises(ConfigError, match=r"sources\.0.*exactly one of 'path'.*'url'.*or 'instructions'"):
        load_config(write(tmp_path, "sources: [{path: a, url: 'https://x/y.git'}]\n"))
    with pytest.raises(ConfigError, match=r"ingest.*downsample shares must be in \(0, 1\]"):
        load_config(write(tmp_path, "sources: [{path: .}]\ningest: {downsample: {Lua: 1.5}}\n"))
    with pytest.raises(ConfigError, match=r"ingest.near_duplicate_threshold"):
        load_config(write(tmp_path, "sources: [{path: .}]\ningest: {near_duplicate_threshold: 0}\n"))


def test_judge_samples_at_temperature_zero_are_refused(tmp_path):
    path = write(tmp_path, "sources: [{path: .}]\njudge: {samples: 3}\nsampling: {judge: {temperature: 0}}\n")
    with pytest.raises(ConfigError, match=r"judge.samples is 3 but sampling.judge.temperature is 0"):
        load_config(path)
    path = write(tmp_path, "sources: [{path: .}]\njudge: {samples: 3, max_spread: 1}\n"
                           "sampling: {judge: {temperature: 0.7}}\nmodels: {second_judge: {backend: embedded}}\n")
    config = load_config(path)
    assert config.judge.samples == 3 and config.models.second_judge.backend == "embedded"


def test_rationales_default_on_for_servers_and_off_for_the_embedded_model(tmp_path):
    assert load_config(write(tmp_path, "sources: [{path: .}]\n")).judge.rationales is False
    server = "models: {judge: {backend: openai, base_url: 'http://127.0.0.1:8000/v1', model: m}}\n"
    assert load_config(write(tmp_path, "sources: [{path: .}]\n" + server)).judge.rationales is True
    explicit = "sources: [{path: .}]\njudge: {rationales: false}\n" + server
    assert load_config(write(tmp_path, explicit)).judge.rationales is False


def test_every_path_resolves_against_the_config_files_folder(tmp_path, monkeypatch):
    folder = tmp_path / "configs"
    (folder / "checks").mkdir(parents=True)
    (folder / "checks" / "strict.yaml").write_text("name: strict\n")
    (folder / "bench.jsonl").write_text("{}\n")
    path = folder / "campaign.yaml"
    path.write_text(
        "output_dir: out\nsources: [{path: code}]\n"
        "ingest: {clone_dir: clones, decontamination_sets: [bench.jsonl]}\n"
        "memory: {folder: banks, seeds: starter}\n"
        "judge: {checklist: checks/strict.yaml}\nprompts: {folder: my-prompts}\n"
        "coverage: {taxonomy: taxonomy}\ntraining: {base_model: embedded}\n")
    monkeypatch.chdir(tmp_path)  # elsewhere than the config's folder
    config = load_config(Path("configs/campaign.yaml"))
    assert config.output_dir == folder / "out" and config.sources[0].path == folder / "code"
    assert config.ingest.clone_dir == folder / "clones"
    assert config.ingest.decontamination_sets == [folder / "bench.jsonl"]
    assert config.memory.folder == folder / "banks" and config.prompts.folder == folder / "my-prompts"
    assert config.judge.checklist == str(folder / "checks" / "strict.yaml")
    # Bundled names stay names when no file of that name is beside the config.
    assert (config.memory.seeds, config.coverage.taxonomy, config.training.base_model) == (
        "starter", "taxonomy", "embedded")
    # A command-line override is the user's own path: relative to the working directory.
    overridden = load_config(Path("configs/campaign.yaml"), {"output_dir": "elsewhere"})
    assert overridden.output_dir == Path("elsewhere") and overridden.memory.folder == folder / "banks"


def test_unknown_campaign_languages_are_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"languages.*Klingon"):
        load_config(write(tmp_path, "sources: [{path: .}]\nlanguages: [Python, Klingon]\n"))


@pytest.mark.parametrize("models, concurrency, items", [
    ("{}", "auto", 4),  # the embedded model
    ("{generator: {backend: openai, model: m, base_url: http://a/v1}}", "auto", 32),  # 2 x max_concurrency 16
    ("{generator: {backend: openai, model: m, base_url: [http://a/v1, http://b/v1, http://c/v1], max_concurrency: 8}}",
     "auto", 48),
    ("{generator: {backend: openai, model: m, base_url: http://a/v1}}", "3", 3),
])
def test_auto_concurrency_keeps_every_request_slot_of_the_generators_servers_fed(tmp_path, models, concurrency, items):
    config = load_config(write(tmp_path, f"sources: [{{path: .}}]\nmodels: {models}\nconcurrency: {concurrency}\n"))
    assert config.items_in_flight == items


def test_concurrency_is_a_positive_number_or_auto(tmp_path):
    with pytest.raises(ConfigError, match="concurrency"):
        load_config(write(tmp_path, "sources: [{path: .}]\nconcurrency: fast\n"))
