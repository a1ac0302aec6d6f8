"""The item runner on its own (one work item in, one result out), the item graph's state contract,
the campaign budget, and the recorder turning a result into rows."""

import asyncio
from collections import Counter

import pytest

from doubles import ScriptedBackend, pipeline_script, stage_of, uniform_scores
from polyforge.agents import JudgeAgent, LanguageAgent, StageOutput
from polyforge.config import JudgeConfig, StageSampling
from polyforge.generation.budget import Budget
from polyforge.generation.item_graph import build_item_graph
from polyforge.generation.item_steps import ItemSettings, ItemSteps
from polyforge.generation.item_runner import TRANSFER_SEED_STRIDE, ItemRunner
from polyforge.generation.item_state import ContractError, ItemState, Step, WorkItem
from polyforge.generation.recorder import Provenance, pair_from_state
from polyforge.terms import PairOrigin, PairStatus

ITEM = WorkItem(snippet_id=7, language="Python", path="lib/total.py", code="def total(xs):\n    return sum(xs)\n",
                seed=11, peers=("Go",))


def runner_for(script, checklist, languages=("Python", "Go")):
    backend = ScriptedBackend(script)
    agents = {language: LanguageAgent(language, backend, StageSampling(), StageSampling()) for language in languages}
    judge = JudgeAgent(backend, checklist, StageSampling(temperature=0), JudgeConfig(max_retries=1))
    return ItemRunner(build_item_graph(agents, judge, ItemSettings(candidates=2))), backend, judge


def test_the_item_runner_alone_turns_one_item_into_one_result(checklist, criteria):
    """No campaign, no database: the runner takes a work item and returns its state and its transfer's."""
    runner, backend, judge = runner_for(pipeline_script(lambda m: uniform_scores(9, criteria)), checklist)
    result = asyncio.run(runner.run(ITEM))

    state = result.state
    assert state.item is ITEM and state.status is PairStatus.accepted and state.error is None
    assert state.instruction.text.startswith("Write a function") and len(state.candidates) == 2
    assert state.answer is state.candidates[0] and state.verdict is state.verdicts[0]
    assert [turn.role for turn in state.discussion] == ["draft", "critique", "revision", "transfer"]
    # The discussion's transfer ran as a Go item with the task given, and a seed of its own.
    (transfer,) = result.transfers
    assert transfer.item.language == "Go" and transfer.item.mode == "transfer"
    assert transfer.item.seed == ITEM.seed + TRANSFER_SEED_STRIDE and transfer.item.peers == ()
    assert transfer.instruction is state.transfers["Go"] and transfer.status is PairStatus.accepted
    assert result.states == [state, transfer]
    stages = Counter(stage_of(messages) for messages, _ in backend.calls)
    # Python: instruction, critique, revise, transfer, 2 answers, 2 judgements; Go: 2 answers, 2 judgements.
    assert stages == Counter(instruction=1, critique=1, revise=1, transfer=1, answer=4, judge=4)

    provenance = Provenance(3, backend.name, judge.model_names, checklist.content_hash,
                            {c.id: c.weight for c in checklist.criteria}, {"temperature": 0.5})
    pair = pair_from_state(provenance, state)
    assert (pair.campaign_id, pair.snippet_id, pair.language, pair.status) == (3, 7, "Python", "accepted")
    assert pair.sampling == {"temperature": 0.5, "item_seed": 11, "mode": "snippet"}
    assert pair.origin is None or pair.origin == PairOrigin.single  # the recorder marks discussions, not this
    assert len(pair.scores) == len(criteria) and pair.tokens["judge"]["calls"] == 2


def test_an_item_that_ends_early_has_no_transfers(checklist, criteria):
    runner, _, _ = runner_for(pipeline_script(lambda m: "", fail_stage="instruction"), checklist)
    result = asyncio.run(runner.run(ITEM))
    assert result.state.status is PairStatus.failed and result.state.error.startswith("instruction:")
    assert result.transfers == [] and result.state.answer is None


def test_each_step_reads_only_what_an_earlier_step_writes(checklist):
    agents = {"Python": LanguageAgent("Python", ScriptedBackend(lambda m, s: ""), StageSampling(), StageSampling())}
    steps = ItemSteps(agents, JudgeAgent(agents["Python"].backend, checklist, StageSampling()), ItemSettings()).steps()
    available = {"item"}
    for step in steps:
        assert set(step.reads) <= available | {"status"}, step.name
        available |= set(step.writes)
    assert "status" in {name for step in steps for name in step.reads}  # remember reads the judge's route
    assert {"instruction", "candidates", "verdict", "answer"} <= available


def test_a_step_that_breaks_its_contract_fails_where_it_broke():
    state = ItemState(item=ITEM)
    reads_unset = Step("answer", ("instruction",), ("candidates",), lambda s: {})
    with pytest.raises(ContractError, match="answer reads \\['instruction'\\]"):
        asyncio.run(reads_unset(state))
    undeclared = Step("classify", ("item",), ("classification",), lambda s: {"answer": None})
    with pytest.raises(ContractError, match="wrote 'answer'"):
        asyncio.run(undeclared(state))
    mistyped = Step("write_answers", ("item",), ("candidates",), lambda s: {"candidates": ["not a StageOutput"]})
    with pytest.raises(ContractError, match="candidates"):
        asyncio.run(mistyped(state))
    with pytest.raises(ContractError, match="no state field"):
        Step("typo", ("item",), ("instructions",), lambda s: {})
    fine = Step("write_instruction", ("item",), ("instruction",),
                lambda s: {"instruction": StageOutput("task", "instruction", "abc")})
    assert asyncio.run(fine(state))["instruction"].text == "task"


def test_the_budget_reserves_before_an_item_starts_and_settles_after():
    budget = Budget(max_pairs=5, pairs_done=1, max_tokens=100)
    first = budget.reserve(peers=2, transfers=True)
    assert (first.pairs, first.peers, budget.pairs_left) == (3, 2, 1)
    second = budget.reserve(peers=2, transfers=True)  # only its own pair fits: no peers
    assert (second.pairs, second.peers, budget.pairs_left) == (1, 0, 0)
    assert budget.reserve(peers=0, transfers=True) is None and budget.exhausted == "pair budget (5) reached"
    budget.settle(first, pairs_made=1, tokens=40)  # a transfer failed to come: its pairs come back
    assert budget.pairs_left == 2 and budget.exhausted is None
    without_transfers = budget.reserve(peers=3, transfers=False)
    assert (without_transfers.pairs, without_transfers.peers) == (1, 3)
    budget.settle(without_transfers, pairs_made=1, tokens=60)
    assert budget.exhausted == "token budget (100) reached" and budget.reserve(peers=0, transfers=False) is None
