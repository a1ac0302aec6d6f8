"""Server time spent only where it can pay: judge budgets that hold the reply, no retry at a budget that
cut the reply off, cheap gates before answers, tests and the judge, and the prefix-cache accounting."""

import asyncio
import json
from dataclasses import replace

import pytest
from pydantic import BaseModel

from doubles import ScriptedBackend, answer_in, pipeline_script, stage_of, uniform_scores
from polyforge.agents import JudgeAgent, LanguageAgent
from polyforge.agents.gates import answer_gate, instruction_gate
from polyforge.agents.judge import JudgeBudgetError, judge_sampling, judge_token_budget
from polyforge.config import JudgeConfig, StageSampling, load_config
from polyforge.generation.item_graph import build_item_graph, run_item
from polyforge.generation.item_steps import ItemSettings
from polyforge.generation.item_state import WorkItem
from polyforge.generation.recorder import Provenance, pair_from_state, preferences
from polyforge.languages import grammar_names
from polyforge.llm import ChatBackend, Completion, SamplingParams, StructuredOutputError, chat_structured
from polyforge.llm.openai_backend import _cached_tokens
from polyforge.sandbox import Execution, Status
from polyforge.terms import CODE_BLOCK_END, PairStatus

ITEM = WorkItem(snippet_id=1, language="Go", path="sum.go", code="func total(xs []int) int {\n\treturn 0\n}\n", seed=3)
GRAMMARS = grammar_names()


# --- judge budgets -----------------------------------------------------------------------------------------

def test_the_judge_budget_is_derived_from_the_checklist_and_holds_the_longest_reply(checklist):
    scores_only, with_rationales = judge_token_budget(checklist, False), judge_token_budget(checklist, True)
    longest = json.dumps({c.id: checklist.scale.max for c in checklist.criteria})
    assert len(longest) / 4 < scores_only < len(longest)  # at least a token per 4 characters, at most one per char
    assert with_rationales > scores_only + 9 * 240 / 4  # every rationale at its longest fits too
    derived = judge_sampling(checklist, False, StageSampling(temperature=0))  # max_tokens left unset
    assert derived.max_tokens == scores_only and derived.temperature == 0
    explicit = StageSampling(temperature=0, max_tokens=scores_only + 50)
    assert judge_sampling(checklist, False, explicit) is explicit


def test_a_budget_too_small_for_the_checklist_is_refused_naming_both_numbers(checklist, tmp_path):
    needed = judge_token_budget(checklist, True)
    with pytest.raises(JudgeBudgetError, match=rf"max_tokens is 256, but .* can take {needed} tokens"):
        JudgeAgent(ScriptedBackend(lambda m, s: ""), checklist, StageSampling(max_tokens=256),
                   JudgeConfig(rationales=True))
    path = tmp_path / "c.yaml"  # a config without max_tokens derives it; with too few it is refused up front
    path.write_text(f"sources: [{{path: {tmp_path}}}]\njudge: {{rationales: true}}\n")
    assert "max_tokens" not in load_config(path).sampling.judge.model_fields_set
    path.write_text(f"sources: [{{path: {tmp_path}}}]\njudge: {{rationales: true}}\n"
                    "sampling: {judge: {max_tokens: 300}}\n")
    from polyforge.generation.campaign import CampaignRunner

    with pytest.raises(JudgeBudgetError, match=f"300.*{needed}"):
        CampaignRunner(load_config(path))  # before any ingest or model call


# --- truncated structured replies --------------------------------------------------------------------------

class Pair(BaseModel):
    a: int
    b: int


class TruncatingBackend(ChatBackend):
    """A test double that cuts every reply longer than the request's max_tokens (one token per character)."""

    name = "truncating-double"

    def __init__(self, reply: str):
        self.reply, self.budgets = reply, []

    async def chat(self, messages, params: SamplingParams, json_schema=None) -> Completion:
        self.budgets.append(params.max_tokens)
        text = self.reply[:params.max_tokens]
        return Completion(text, self.name, 5, len(text), 0.0, "length" if len(text) < len(self.reply) else "stop")


def test_a_cut_off_reply_is_retried_with_a_larger_budget_never_the_same():
    backend = TruncatingBackend('{"a": 1,  "b": 2}')  # 17 characters
    parsed, spent = asyncio.run(chat_structured(backend, [{"role": "user", "content": "x"}], Pair,
                                                SamplingParams(max_tokens=10), max_retries=3))
    assert parsed == Pair(a=1, b=2) and backend.budgets == [10, 20]
    assert [c.truncated for c in spent] == [True, False]


def test_retries_stop_when_the_budget_cannot_grow_further():
    backend = TruncatingBackend('{"a": 1,' + " " * 200 + '"b": 2}')  # whitespace a grammar let through
    with pytest.raises(StructuredOutputError, match="cut off at max_tokens=16") as raised:
        asyncio.run(chat_structured(backend, [{"role": "user", "content": "x"}], Pair,
                                    SamplingParams(max_tokens=8), max_retries=5))
    assert backend.budgets == [8, 16] and raised.value.attempts == 2  # twice the budget is the ceiling


# --- cheap gates -------------------------------------------------------------------------------------------

def test_answer_gates_name_their_reason():
    go = GRAMMARS["Go"]
    assert answer_gate(answer_in("Go"), "Go", go) is None
    assert answer_gate("   ", "Go", go) == "empty answer"
    assert answer_gate("I'm sorry, but I cannot help with that.", "Go", go) == "refusal"
    assert answer_gate("Use a loop over the slice.", "Go", go) == "no Go code block"
    assert answer_gate(answer_in("Python"), "Shell", GRAMMARS["Shell"]) == "no Shell code block (found python)"
    assert answer_gate("```go\nfunc total(xs []int int {\n```", "Go", go) == "no Go code block that parses"
    assert answer_gate("```\nfunc total(xs []int) int { return 0 }\n```", "Go", go) is None  # untagged, parses
    assert answer_gate("Use a loop.", "Go", go, code_block=False) is None


def test_an_instruction_that_restates_the_snippet_is_dropped():
    snippet = "def total(xs):\n    result = 0\n    for x in xs:\n        result += x\n    return result\n"
    assert instruction_gate(f"Explain this code:\n{snippet}", snippet).startswith("instruction restates the snippet")
    assert instruction_gate("Write a function that sums a list of integers.", snippet) is None


def graph_for(script, checklist, **settings):
    backend = ScriptedBackend(script)
    agent = LanguageAgent("Go", backend, StageSampling(), StageSampling())
    judge = JudgeAgent(backend, checklist, StageSampling(temperature=0), JudgeConfig(max_retries=0))
    return build_item_graph({"Go": agent}, judge, ItemSettings(**settings)), backend


def test_an_answer_without_go_code_is_rejected_without_a_judge_call(checklist, criteria):
    def script(messages, schema):
        return answer_in("Python") if stage_of(messages) == "answer" else pipeline_script(
            lambda m: uniform_scores(9, criteria))(messages, schema)

    graph, backend = graph_for(script, checklist)
    state = asyncio.run(run_item(graph, ITEM))
    assert state.status is PairStatus.rejected and state.error == "gate: no Go code block (found python)"
    assert [stage_of(m) for m, _ in backend.calls] == ["instruction", "answer"]  # no judge, no tester
    assert state.screened_out == {0: "no Go code block (found python)"}


def test_a_gated_candidate_is_not_judged_but_loses_the_preference(checklist, criteria):
    answers = iter(["I'm sorry, I can't.", answer_in("Go")])

    def script(messages, schema):
        return next(answers) if stage_of(messages) == "answer" else pipeline_script(
            lambda m: uniform_scores(9, criteria))(messages, schema)

    graph, backend = graph_for(script, checklist, candidates=2)
    state = asyncio.run(run_item(graph, ITEM))
    assert state.status is PairStatus.accepted and state.answer is state.candidates[1]
    assert state.verdicts[0] is None and sum(stage_of(m) == "judge" for m, _ in backend.calls) == 1
    assert preferences(state) == []  # no tests ran here: the chosen answer is not known to pass
    [beaten] = preferences(state, from_scores=True)
    assert beaten.candidate is state.candidates[0] and beaten.gate == "refusal" and beaten.kind == "judge"
    provenance = Provenance(1, "m", "j", checklist.content_hash, {c.id: c.weight for c in checklist.criteria}, {},
                            preferences_from_scores=True)
    [preference] = pair_from_state(provenance, state).preferences
    assert preference.rejected_score is None and preference.reason.endswith("vs gate: refusal")


class GoTester:
    """A tester double whose Go test asserts (so it is evidence, not vacuous)."""

    async def write_tests(self, language, instruction, seed, interface=None):
        from polyforge.agents import StageOutput
        return StageOutput('func TestTotal(t *testing.T) {\n\tif total(nil) != 0 {\n\t\tt.Errorf("want 0")\n\t}\n}',
                           "tester", "h")


class ScriptedPool:
    """A sandbox pool double: the n-th run of the item's candidates ends with the n-th status."""

    def __init__(self, *statuses: Status):
        self.statuses = iter(statuses)

    async def arun(self, job):
        return Execution(language="Go", status=next(self.statuses), exit_code=1, stdout="", stderr="", seconds=0.1)


def graph_with_tests(checklist, criteria, pool: ScriptedPool, answers=None, judge_settings: JudgeConfig | None = None):
    script = pipeline_script(lambda m: uniform_scores(9, criteria))
    if answers is not None:
        script = (lambda messages, schema, base=script: next(answers) if stage_of(messages) == "answer"
                  else base(messages, schema))
    backend = ScriptedBackend(script)
    agent = LanguageAgent("Go", backend, StageSampling(), StageSampling())
    judge = JudgeAgent(backend, checklist, StageSampling(temperature=0), judge_settings)
    graph = build_item_graph({"Go": agent}, judge, ItemSettings(candidates=2), tester=GoTester(), executor=pool)
    return graph, backend


def test_when_every_candidate_failed_its_tests_the_judge_is_not_called(checklist, criteria):
    graph, backend = graph_with_tests(checklist, criteria, ScriptedPool(*[Status.FAILED] * 4))
    state = asyncio.run(run_item(graph, ITEM))
    assert state.status is PairStatus.rejected and state.error == "gate: every candidate failed its tests"
    assert not any(stage_of(m) == "judge" for m, _ in backend.calls) and state.verdict is None


def test_when_only_a_pass_can_be_accepted_code_that_did_not_run_is_not_judged(checklist, criteria):
    broken = (Status.COMPILE_ERROR, Status.RUNTIME_ERROR, Status.FAILED)  # the candidates' runs, the stub's
    graph, backend = graph_with_tests(checklist, criteria, ScriptedPool(*broken), judge_settings=JudgeConfig(
        accept_only_tested=True))
    state = asyncio.run(run_item(graph, ITEM))
    assert state.error == ("gate: no candidate passed its tests (compile_error, runtime_error), and only a pass can "
                           "be accepted") and state.status is PairStatus.rejected
    assert not any(stage_of(m) == "judge" for m, _ in backend.calls)
    # without accept_only_tested the judge may still accept it (the tests, not the code, may be at fault)
    graph, backend = graph_with_tests(checklist, criteria, ScriptedPool(*broken))
    assert asyncio.run(run_item(graph, ITEM)).verdict is not None
    assert sum(stage_of(m) == "judge" for m, _ in backend.calls) == 2
    # vacuous tests are no verdict on the code: judged, and flagged for a person rather than rejected
    graph, backend = graph_with_tests(checklist, criteria, ScriptedPool(Status.VACUOUS_TESTS, Status.COMPILE_ERROR,
                                                                        Status.FAILED),
                                      judge_settings=JudgeConfig(accept_only_tested=True))
    assert asyncio.run(run_item(graph, ITEM)).status is PairStatus.flagged


def test_when_one_candidate_passed_the_ones_that_did_not_lose_without_a_judge_call(checklist, criteria):
    answers = iter([answer_in("Go").replace("Sum", "Add"), answer_in("Go")])
    pool = ScriptedPool(Status.COMPILE_ERROR, Status.PASSED, Status.FAILED)  # candidate 1's run, 2's, a stub's
    graph, backend = graph_with_tests(checklist, criteria, pool, answers)
    state = asyncio.run(run_item(graph, ITEM))
    assert state.status is PairStatus.accepted and state.answer is state.candidates[1]
    assert sum(stage_of(m) == "judge" for m, _ in backend.calls) == 1 and state.verdicts[0] is None
    assert state.screened_out == {0: "its tests ended compile_error where candidate 2's passed"}
    [beaten] = preferences(state)  # the candidate that did not pass is still the rejected side of a preference
    assert beaten.candidate is state.candidates[0] and beaten.gate.startswith("its tests ended compile_error")


# --- prefix-cache accounting -------------------------------------------------------------------------------

def test_cached_prompt_tokens_are_read_from_the_usage_and_summed_per_stage(checklist, criteria):
    class Details:
        cached_tokens = 7

    class Usage:
        prompt_tokens_details = Details()

    assert _cached_tokens(Usage()) == 7 and _cached_tokens(object()) == 0 and _cached_tokens(None) == 0

    class CachingDouble(ScriptedBackend):
        async def chat(self, messages, params, json_schema=None):
            return replace(await super().chat(messages, params, json_schema), cached_tokens=4)

    backend = CachingDouble(pipeline_script(lambda m: uniform_scores(9, criteria)))
    agent = LanguageAgent("Go", backend, StageSampling(), StageSampling())
    graph = build_item_graph({"Go": agent}, JudgeAgent(backend, checklist, StageSampling(temperature=0)))
    state = asyncio.run(run_item(graph, ITEM))
    provenance = Provenance(1, "m", "j", checklist.content_hash, {c.id: c.weight for c in checklist.criteria}, {})
    tokens = pair_from_state(provenance, state).tokens
    assert tokens["judge"]["cached"] == 4 and tokens["answer"]["cached"] == 4 and tokens["answer"]["truncated"] == 0
    assert tokens["judge"]["prompt"] == 10  # cached tokens are part of the prompt, counted once


# --- answers end with their code block ---------------------------------------------------------------------

class HonoursStops(ChatBackend):
    """A backend double that replies with a fixed text cut where the request's stop strings say, as servers do,
    or at `cut_at` characters as a max_tokens cut-off."""

    name = "stop-double"

    def __init__(self, text: str, cut_at: int | None = None):
        self.text, self.cut_at, self.stops = text, cut_at, []

    async def chat(self, messages, params, json_schema=None):
        self.stops.append(params.stop)
        if self.cut_at is not None:
            return Completion(self.text[:self.cut_at], self.name, finish_reason="length")
        ends = [self.text.index(stop) for stop in params.stop if stop in self.text]
        return Completion(self.text[:min(ends, default=len(self.text))], self.name, finish_reason="stop")


EXPLAINED = "Sum them.\n```python\ndef total(xs):\n    return sum(xs)\n```\n\nExample:\n```python\nprint(total([1]))\n```\n"


def test_an_answer_stops_at_the_end_of_its_code_block_and_keeps_the_fence(tmp_path):
    answer_sampling = load_config_text(tmp_path, "").sampling.answer
    assert answer_sampling.stop == [CODE_BLOCK_END]
    assert load_config_text(tmp_path, "sampling: {answer: {temperature: 0.2}}\n").sampling.answer.stop == [
        CODE_BLOCK_END]  # setting another field keeps the default stop
    backend = HonoursStops(EXPLAINED)
    answer = asyncio.run(LanguageAgent("Python", backend, StageSampling(), answer_sampling).write_answer("Sum xs."))
    assert answer.text == "Sum them.\n```python\ndef total(xs):\n    return sum(xs)\n```"  # no example generated
    assert backend.stops == [(CODE_BLOCK_END,)]
    # `stop: []` asks for everything the model writes
    kept = load_config_text(tmp_path, "sampling: {answer: {stop: []}}\n").sampling.answer
    assert asyncio.run(LanguageAgent("Python", HonoursStops(EXPLAINED), StageSampling(), kept)
                       .write_answer("Sum xs.")).text == EXPLAINED.strip()


def test_an_answer_cut_off_by_max_tokens_is_left_open():
    cut = HonoursStops(EXPLAINED, cut_at=30)
    answer = asyncio.run(LanguageAgent("Python", cut, StageSampling(), StageSampling(stop=[CODE_BLOCK_END]))
                         .write_answer("Sum xs."))
    assert answer.text == EXPLAINED[:30].strip() and answer.text.count("```") == 1


def load_config_text(folder, extra: str):
    path = folder / "campaign.yaml"
    path.write_text(f"sources: [{{path: {folder}}}]\n{extra}")
    return load_config(path)

