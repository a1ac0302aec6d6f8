"""Money: models' prices (`models.*.price`), the cost so far in `status`, `report` and `prompts compare`, and the
projection of `run --estimate` (against a real llama.cpp server)."""

from __future__ import annotations

import math

import pytest
import yaml
from typer.testing import CliRunner

from polyforge.cli import app
from polyforge.config import CampaignConfig, ConfigError, load_config
from polyforge.generation.costs import Prices
from polyforge.generation.estimate import SampledPair, project
from polyforge.storage import Campaign, Pair, session_scope
from polyforge.storage.spending import run_seconds

MILLION = 1_000_000


def test_each_stage_costs_its_models_price_and_cached_prompt_tokens_their_own():
    prices = Prices.of_models({
        "generator": {"price": {"prompt": 1, "completion": 2}},
        "judge": {"price": {"prompt": 10, "cached_prompt": 5, "completion": 20}},
    })
    assert prices.priced and prices.server_per_hour == 0
    spent = {"answer": {"prompt": MILLION, "completion": MILLION // 2},
             "tester": {"prompt": 2 * MILLION, "completion": 0},  # no tester model: the generator's price
             "judge": {"prompt": 2 * MILLION, "cached": MILLION, "completion": MILLION}}
    assert prices.tokens_cost(spent) == pytest.approx((1 + 1) + 2 + (10 + 5 + 20))


def test_an_ensembles_judge_stage_is_half_each_judges_and_shared_servers_are_charged_once():
    prices = Prices.of_models({
        "generator": {"base_url": "http://a/v1", "price": {"prompt": 2, "gpu_hour": 4}},
        "judge": {"base_url": "http://a/v1", "price": {"prompt": 2, "gpu_hour": 4}},  # the generator's server
        "second_judge": {"base_url": ["http://b/v1", "http://c/v1"], "price": {"prompt": 6, "gpu_hour": 3, "gpus": 2}},
    })
    assert prices.tokens_cost({"judge": {"prompt": MILLION}}) == pytest.approx(4)
    assert prices.server_per_hour == pytest.approx(4 + 3 * 2 * 2)
    assert prices.server_cost(1800) == pytest.approx(8)
    in_process = Prices.of_models({"generator": {"backend": "embedded", "price": {"gpu_hour": 1.5}}})
    assert in_process.server_per_hour == 1.5 and Prices.of_models({"generator": {}}).priced is False


def test_the_cost_so_far_counts_accepted_pairs_after_review_and_prompt_versions_share_it(tmp_path):
    from datetime import datetime, timezone

    from factories import campaign_with_snippets, pair
    from polyforge.generation.costs import campaign_cost, template_costs
    from polyforge.storage import GenerationRun, Review, database_url
    from polyforge.terms import PairStatus

    one_million_prompt = {"answer": {"prompt": MILLION, "completion": 0, "calls": 1}}
    with session_scope(database_url(tmp_path / "db")) as session:
        campaign, snippets = campaign_with_snippets(session, 3)
        campaign.config = {"models": {"generator": {"price": {"prompt": 2.0, "gpu_hour": 36.0}}}}
        versions = ({"answer": "v1"}, {"answer": "v1"}, {"answer": "v2"})
        pairs = [pair(campaign, snippets[index], "Python", status, tokens=one_million_prompt, seconds=seconds,
                      templates=versions[index])
                 for index, (status, seconds) in enumerate([(PairStatus.accepted, 1.0), (PairStatus.flagged, 1.0),
                                                            (PairStatus.accepted, 2.0)])]
        session.add_all(pairs)
        session.add(GenerationRun(campaign_id=campaign.id, started_at=datetime.now(timezone.utc), seconds=100.0, pairs=3))
        session.flush()
        session.add(Review(pair_id=pairs[1].id, annotator="ann", verdict="accept"))  # the flagged one, accepted
        session.flush()
        cost = campaign_cost(session, campaign)
        by_version = template_costs(session, campaign.id)
    assert (cost.tokens, cost.server, cost.pairs, cost.accepted) == (pytest.approx(6.0), pytest.approx(1.0), 3, 3)
    assert cost.per_accepted == pytest.approx(7.0 / 3)
    # The server's hour is shared by model seconds: 1/4, 1/4 and 2/4.
    assert by_version == {("answer", "v1"): pytest.approx(4.0 + 0.5), ("answer", "v2"): pytest.approx(2.0 + 0.5)}


def write_config(tmp_path, **changes) -> str:
    raw = {"sources": [{"path": "."}], **changes}
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def test_a_bad_price_names_its_key(tmp_path):
    with pytest.raises(ConfigError, match=r"models\.generator\.price\.prompt: Input should be greater than or equal"):
        load_config(write_config(tmp_path, models={"generator": {"price": {"prompt": -1}}}))
    with pytest.raises(ConfigError, match=r"models\.judge\.price\.per_token: unknown key"):
        load_config(write_config(tmp_path, models={"judge": {"price": {"per_token": 1}}}))


def test_estimate_refuses_what_cannot_apply_to_a_sample_without_a_traceback(tmp_path):
    config = write_config(tmp_path, models={"generator": {"price": {"prompt": "a lot"}}})
    bad = CliRunner().invoke(app, ["run", config, "--estimate", "2"])
    assert bad.exit_code == 2 and "models.generator.price.prompt" in bad.output and "Traceback" not in bad.output
    both = CliRunner().invoke(app, ["run", config, "--estimate", "2", "--retry-failed", "--new-campaign"])
    assert both.exit_code == 2 and "--new-campaign, --retry-failed cannot apply" in " ".join(both.output.split())
    zero = CliRunner().invoke(app, ["run", config, "--estimate", "0"])
    assert zero.exit_code == 2 and "'--estimate': Input should be greater than or equal to 1" in zero.output


def sample_of(accepted: int, pairs: int = 10) -> list[SampledPair]:
    return [SampledPair(tokens=1000 + 100 * index, cost=0.01 * (index + 1), seconds=2.0 + index,
                        accepted=index < accepted) for index in range(pairs)]


def campaign(max_pairs: int = 100, **budgets) -> CampaignConfig:
    return CampaignConfig.model_validate({"sources": [{"path": "."}], "budgets": {"max_pairs": max_pairs, **budgets}})


def test_the_projection_scales_the_sample_to_the_campaigns_pairs_with_intervals_around_it():
    sample = sample_of(accepted=4)
    prices = Prices.of_models({"generator": {"price": {"gpu_hour": 3.6}}})
    projection = project(sample, sample_items=10, sample_seconds=60.0, campaign_items=1000, config=campaign(),
                         prices=prices)
    assert projection.pairs == 100 and projection.limited_by == "budgets.max_pairs"
    assert projection.tokens.value == pytest.approx(1450 * 100)
    assert projection.server_hours.value == pytest.approx(6 * 100 / 3600)
    cost = 0.055 * 100 + 3.6 * 600 / 3600
    assert projection.cost.value == pytest.approx(cost)
    assert projection.accepted.value == pytest.approx(40)
    assert projection.per_accepted.value == pytest.approx(cost / 40)
    for figure in (projection.tokens, projection.server_hours, projection.cost, projection.accepted,
                   projection.per_accepted):
        assert figure.low < figure.value < figure.high
    assert projection.sample_cost == pytest.approx(0.55 + 3.6 * 60 / 3600)


def test_a_sample_that_accepted_nothing_bounds_the_cost_per_accepted_pair_from_below():
    prices = Prices.of_models({"generator": {"price": {"prompt": 1}}})
    projection = project(sample_of(accepted=0), 10, 60.0, 1000, campaign(), prices)
    assert projection.accepted.value == 0 and 0 < projection.accepted.high < 100  # Wilson: not zero-width
    assert projection.per_accepted.value is None and math.isinf(projection.per_accepted.high)
    assert projection.per_accepted.low == pytest.approx(projection.cost.value / projection.accepted.high)
    unpriced = project(sample_of(accepted=3), 10, 60.0, 1000, campaign(), Prices.of_models({}))
    assert unpriced.cost is None and unpriced.per_accepted is None


def test_the_campaigns_pairs_are_bounded_by_its_snippets_or_its_token_budget():
    prices = Prices.of_models({})
    by_snippets = project(sample_of(2), sample_items=5, sample_seconds=10.0, campaign_items=30, config=campaign(),
                          prices=prices)  # 2 pairs per item (discussion transfers): 30 items make 60 pairs
    assert (by_snippets.pairs, by_snippets.limited_by) == (60, "the snippets")
    by_tokens = project(sample_of(2), 10, 10.0, 1000, campaign(max_tokens=14_500), prices)
    assert (by_tokens.pairs, by_tokens.limited_by) == (10, "budgets.max_tokens")


@pytest.mark.slow
def test_estimate_then_the_run_against_a_llama_cpp_server(llama_server_url, sample_repo, tmp_path):
    out = tmp_path / "out"
    price = {"prompt": 0.5, "cached_prompt": 0.25, "completion": 1.5, "gpu_hour": 2.0}
    config = write_config(
        tmp_path, name="priced", output_dir=str(out), languages=["Python", "C"], budgets={"max_pairs": 4},
        concurrency=2, memory={"enabled": False}, execution={"enabled": False}, coverage={"classify": False},
        judge={"rationales": False, "max_retries": 0}, sources=[{"path": str(sample_repo)}],
        models={"generator": {"backend": "openai", "model": "smollm2", "base_url": llama_server_url,
                              "response_format": "json_object", "timeout_s": 120, "price": price}},
        sampling={"seed": 3, "instruction": {"max_tokens": 24}, "answer": {"max_tokens": 32},
                  "judge": {"max_tokens": 100, "temperature": 0}})
    runner = CliRunner()
    estimated = runner.invoke(app, ["run", config, "--estimate", "2"])
    assert estimated.exit_code == 0, estimated.output
    text = " ".join(estimated.output.split())
    assert "estimate: a sample of 2 work items (2 pairs) projected to 4 pairs (bounded by budgets.max_pairs)" in text
    for figure in ("tokens", "server hours", "accepted pairs", "cost", "cost per accepted pair"):
        assert f"│ {figure} " in estimated.output
    assert not out.exists()  # the sample ran apart: the campaign has no database yet

    ran = runner.invoke(app, ["run", config])
    assert ran.exit_code == 0, ran.output
    with session_scope(f"sqlite:///{out / 'polyforge.db'}", create=False) as session:
        chosen = session.query(Campaign).one()
        spent = [(tokens, status) for tokens, status in session.query(Pair.tokens, Pair.status)]
        seconds = run_seconds(session, chosen.id)
    assert len(spent) == 4 and seconds > 0
    tokens = sum((stage["prompt"] - stage["cached"]) * 0.5 + stage["cached"] * 0.25 + stage["completion"] * 1.5
                 for record, _ in spent for stage in record.values()) / MILLION
    total = tokens + 2.0 * seconds / 3600
    status = runner.invoke(app, ["status", str(out)])
    assert status.exit_code == 0 and "per accepted" in status.output
    assert f"{total:.2g}" in status.output
    report = runner.invoke(app, ["report", str(out)])
    assert f"cost so far: {total:.2g} (tokens {tokens:.2g}, servers" in " ".join(report.output.split())
    compare = runner.invoke(app, ["prompts", "compare", str(out)])
    assert compare.exit_code == 0 and "cost per accepted" in " ".join(compare.output.split())
