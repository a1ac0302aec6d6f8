"""The steps of one work item: what each does to the item's state (the graph in item_graph.py puts them in order).

Each step is a `Step` with the state fields it reads and writes (item_state.py); a step before the judge that
sets a status (failed, duplicate, or rejected by a gate) ends the item.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from polyforge.agents import ITEM_ERRORS, JudgeAgent, LanguageAgent, StageOutput, TesterAgent, Verdict, code_block
from polyforge.agents.gates import answer_gate, instruction_gate, sensitive_gate
from polyforge.agents.judge import execution_note
from polyforge.agents.test_evidence import (
    as_evidence,
    shared_interface,
    vacuity,
    without_clashes,
    without_own_solution,
)
from polyforge.config import GatesConfig
from polyforge.generation.discussion import build_discussion_graph, discuss
from polyforge.generation.item_state import ItemState, Step, dropped, ended
from polyforge.generation.repair import candidate_to_repair, fix_candidate
from polyforge.ingest.decontamination import BenchmarkNgrams
from polyforge.ingest.paraphrases import BenchmarkIndex
from polyforge.languages import grammar_names
from polyforge.prompts import Taxonomy
from polyforge.sandbox import Execution, Status, UnknownLanguage, language as sandbox_language
from polyforge.sandbox.pool import ExecutionPool, Job
from polyforge.terms import CONTAMINATED, PairStatus

CANDIDATE_SEED_STRIDE = 7919  # candidate i samples with seed + i * stride: distinct, reproducible
# How a run ends when the code under test is at fault (as far as the sandbox can tell).
CODE_FAILURES = frozenset({Status.FAILED, Status.COMPILE_ERROR, Status.RUNTIME_ERROR, Status.TIMEOUT,
                           Status.MEMORY_LIMIT})
# Until a pass, the runs after which another candidate is written (config: sampling.answer_again_after).
WRONG_RESULTS = frozenset({Status.FAILED, Status.TIMEOUT, Status.MEMORY_LIMIT})


@dataclass(frozen=True)
class ItemSettings:
    """How every work item of a campaign is processed (from the campaign config)."""

    candidates: int = 1  # answers sampled per instruction; the judge keeps the best
    novelty_threshold: float = 0.9  # similarity to the memory bank at which an instruction is a duplicate
    discussion_rounds: int = 1  # critique-and-revise rounds for items with peers
    transfer: bool = True  # peers carry the discussed task into their languages
    gates: GatesConfig = field(default_factory=GatesConfig)  # cheap checks before answers, tests and the judge
    # Benchmark word n-grams: an instruction or answer that shares one is contaminated (None: no check).
    benchmarks: BenchmarkNgrams | None = None
    until_pass: bool = False  # candidates one at a time, until one passes its tests
    answer_again_after: frozenset[Status] = WRONG_RESULTS  # until a pass: how a run ends for another round
    repair_turns: int = 0  # fixes asked for per item from the sandbox's output on a failed candidate
    # Benchmark tasks by meaning: an instruction at least `paraphrase_threshold` similar to one is contaminated.
    paraphrases: BenchmarkIndex | None = None
    paraphrase_threshold: float = 1.0


def passed(execution: Execution | None) -> bool:
    return execution is not None and execution.status is Status.PASSED


def best_candidate(verdicts: list[Verdict | None], executions: list[Execution | None]) -> int:
    """The judged candidate that passed its tests with the highest final score (then the best of the rest);
    unscored ones rank last, ties keep the earlier; screened-out ones (no verdict) never win."""
    ran = executions or [None] * len(verdicts)
    keys = [(v is not None, passed(e), v.final_score if v is not None and v.final_score is not None else float("-inf"))
            for e, v in zip(ran, verdicts)]
    return keys.index(max(keys))


class ItemSteps:
    """The steps of the item graph, sharing the campaign's agents, judge, tester and sandbox."""

    def __init__(self, agents: Mapping[str, LanguageAgent], judge: JudgeAgent, settings: ItemSettings,
                 taxonomy: Taxonomy | None = None, tester: TesterAgent | None = None,
                 executor: ExecutionPool | None = None):
        self.agents, self.judge, self.settings = agents, judge, settings
        self.taxonomy, self.tester, self.executor = taxonomy, tester, executor
        self.discussion = build_discussion_graph(agents, settings.discussion_rounds, settings.transfer)

    def steps(self) -> list[Step]:
        """In graph order; every field a step reads is written by an earlier one (or is the item)."""
        return [
            Step("write_instruction", ("item",), ("instruction",), self.write_instruction),
            Step("discuss", ("item", "instruction"), ("instruction", "discussion", "transfers"), self.discuss),
            Step("screen_instruction", ("item", "instruction"), ("instruction",), self.screen_instruction),
            Step("check_novelty", ("item", "instruction"), ("novelty", "memory_id"), self.check_novelty),
            Step("classify", ("item", "instruction"), ("classification",), self.classify),
            Step("write_answers", ("item", "instruction"), ("candidates", "answer_calls"), self.write_answers),
            Step("screen_answers", ("item", "candidates"), ("candidates", "screened_out"), self.screen_answers),
            Step("execute", ("item", "instruction"), ("written_tests", "tests", "executions", "untestable"),
                 self.execute),
            Step("repair", ("item", "instruction", "candidates", "executions"), ("candidates", "repairs"),
                 self.repair),
            Step("judge", ("item", "instruction"), ("screened_out", "verdicts", "answer", "verdict"),
                 self.judge_candidates),
            Step("remember", ("item", "status"), (), self.remember),
        ]

    async def write_instruction(self, state: ItemState) -> dict:
        item = state.item
        agent = self.agents[item.language]
        if item.instruction is not None:  # given (a dataset's row) or carried over by a discussion: not written
            return {"instruction": item.instruction}
        try:
            if item.mode == "answer_first":
                output = await agent.write_instruction_answer_first(item.code, item.path, item.seed, item.target)
            elif item.mode == "evolve":
                output = await agent.evolve_seed(item.code, item.seed, item.target)
            else:
                output = await agent.write_instruction(item.code, item.path, item.seed, item.target)
        except ITEM_ERRORS as exc:
            return ended(PairStatus.failed, f"instruction: {exc}")
        return {"instruction": output}

    async def discuss(self, state: ItemState) -> dict:
        item = state.item
        outcome = await discuss(self.discussion, item.language, list(item.peers), state.instruction, item.seed)
        update = {"instruction": outcome["instruction"], "discussion": outcome["turns"],
                  "transfers": outcome.get("transfers", {})}
        if "error" in outcome:
            update.update(ended(PairStatus.failed, f"discussion: {outcome['error']}"))
        return update

    def screen_instruction(self, state: ItemState) -> dict:
        """An instruction holding secrets or personal data is dropped and kept only redacted; then the benchmark
        checks (a shared n-gram, a paraphrase) and the restated-snippet gate."""
        if self.settings.gates.secrets:
            text, sensitive = sensitive_gate(state.instruction.text, "the instruction")
            if sensitive:
                return {"instruction": replace(state.instruction, text=text), **dropped(sensitive)}
        benchmark = self._benchmark_in(state.instruction.text)
        if benchmark:
            return ended(PairStatus.contaminated, f"{CONTAMINATED}the instruction {benchmark}")
        paraphrases = self.settings.paraphrases
        paraphrase = paraphrases.match(state.instruction.text, self.settings.paraphrase_threshold) \
            if paraphrases is not None else None
        if paraphrase:
            return ended(PairStatus.contaminated, f"{CONTAMINATED}the instruction {paraphrase}")
        reason = instruction_gate(state.instruction.text, state.item.code) if self.settings.gates.restated_snippet \
            else None
        return dropped(reason) if reason else {}

    def _benchmark_in(self, text: str) -> str | None:
        """'shares a 10-gram with HumanEval' when `text` overlaps a benchmark, else None."""
        benchmarks = self.settings.benchmarks
        name = benchmarks.overlap_text(text) if benchmarks is not None else None
        return f"shares a {benchmarks.n}-gram with {name}" if name else None

    def check_novelty(self, state: ItemState) -> dict:
        memory = self.agents[state.item.language].memory
        if memory is None:
            return {}
        threshold = self.settings.novelty_threshold
        instruction = state.instruction.text
        vector = memory.embedder.encode([instruction])  # embedded once: checked, then remembered
        similarity, entry = memory.admit("generated", instruction, vector[0], threshold)  # atomic across items
        if entry is None:
            return {"novelty": similarity, **ended(PairStatus.duplicate, f"novelty: {similarity:.3f} similar to an "
                                                   f"instruction in memory (threshold {threshold})")}
        return {"novelty": similarity, "memory_id": entry.id}

    async def classify(self, state: ItemState) -> dict:
        if self.taxonomy is None:
            return {}
        item = state.item
        try:
            labels = await self.agents[item.language].classify(state.instruction.text, self.taxonomy, item.seed)
        except ITEM_ERRORS as exc:
            return ended(PairStatus.failed, f"classify: {exc}")
        return {"classification": labels}

    async def write_answers(self, state: ItemState) -> dict:
        """Every candidate at once; until a pass, the next one (each round comes back here while none passed)."""
        item = state.item
        agent = self.agents[item.language]
        first = state.answer_calls
        calls = range(first, first + 1 if self.settings.until_pass else self.settings.candidates)
        results = await asyncio.gather(
            *(agent.write_answer(state.instruction.text, item.seed + i * CANDIDATE_SEED_STRIDE) for i in calls),
            return_exceptions=True,
        )
        unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, ITEM_ERRORS)]
        if unexpected:
            raise unexpected[0]
        written = state.candidates + [r for r in results if isinstance(r, StageOutput)]
        update = {"candidates": written, "answer_calls": calls.stop}
        if not written and not self._another_candidate(calls.stop):  # one good candidate is enough to go on
            return {**update, **ended(PairStatus.failed, f"answer: {results[0]}")}
        return update

    def _another_candidate(self, answer_calls: int) -> bool:
        """Whether a later round may still write a candidate (until a pass)."""
        return self.settings.until_pass and answer_calls < self.settings.candidates

    def screen_answers(self, state: ItemState) -> dict:
        """Drop the candidates a gate refuses or that overlap a benchmark (one holding secrets or personal data is
        kept only redacted); when none is left the item ends without tests or judge: contaminated when any candidate
        overlapped, else rejected by the gate."""
        gates, language = self.settings.gates, state.item.language
        grammar = grammar_names().get(language)
        reasons, candidates = {}, list(state.candidates)
        for index, candidate in enumerate(candidates):
            sensitive = None
            if gates.secrets:
                text, sensitive = sensitive_gate(candidate.text, "the answer")
                candidates[index] = replace(candidate, text=text)
            benchmark = self._benchmark_in(candidate.text)
            reason = sensitive or (CONTAMINATED + f"the answer {benchmark}" if benchmark else
                                   answer_gate(candidate.text, language, grammar, gates.code_block, gates.refusal))
            if reason:
                reasons[index] = reason
        update = {"candidates": candidates, "screened_out": reasons}
        if len(reasons) == len(candidates) and not self._another_candidate(state.answer_calls):
            contaminated = next((reason for reason in reasons.values() if reason.startswith(CONTAMINATED)), None)
            ending = ended(PairStatus.contaminated, contaminated) if contaminated else dropped(reasons[0])
            return {**update, **ending}
        return update

    async def execute(self, state: ItemState) -> dict:
        """The tester writes tests from the instruction (told only the signatures every candidate shares); the
        sandbox runs every candidate with them. The tester's own copy of a candidate's function is cut from its
        tests (not a check of the same name that asserts where the answer's only prints), and a compiled answer's
        functions the tests define too (their `main`, such a check). Tests that are no evidence (no assertion, or
        they pass against a stub of the answer) turn every pass into `vacuous_tests`.

        A language the sandbox lacks, or answers without a code block, leave the item unexecuted;
        a tester failure (a prose reply included) is recorded and the item goes on to the judge.
        """
        item = state.item
        if self.tester is None or self.executor is None:
            return {}
        try:
            runnable = sandbox_language(item.language).name
        except UnknownLanguage:
            return {"untestable": True}
        codes = [None if index in state.screened_out else code_block(candidate.text)
                 for index, candidate in enumerate(state.candidates)]
        if not any(codes):
            return {"executions": [None] * len(codes)}
        written = state.written_tests  # until a pass, the tests of the first round serve every later one
        if written is None:
            try:
                written = await self.tester.write_tests(item.language, state.instruction.text, item.seed,
                                                        interface=shared_interface(item.language, codes))
            except ITEM_ERRORS as exc:  # no tests: no candidate runs, this round's included
                return {"error": f"tester: {exc}", "executions": [None] * len(codes)}
        test_code, removed = without_own_solution(item.language, written.text, codes)
        tests = replace(written, text=test_code)

        async def run(code: str | None) -> Execution | None:
            if not code:
                return None
            program = without_clashes(item.language, code, test_code)
            return await self.executor.arun(Job(runnable, {"main": program}, test=test_code))

        # Until a pass, the earlier rounds' candidates run again with the same tests: the sandbox's result cache
        # (execution.cache, on by default) answers those without running them.
        executions = list(await asyncio.gather(*(run(code) for code in codes)))
        vacuous, note = await vacuity(run, item.language, test_code, codes)
        if removed:
            note = "; ".join(part for part in (f"the tester's own {', '.join(removed)} removed from the tests", note)
                             if part)
        return {"written_tests": written, "tests": tests,
                "executions": [as_evidence(execution, vacuous, note) for execution in executions]}

    async def repair(self, state: ItemState) -> dict:
        """The latest failed candidate fixed from the sandbox's output on it (repair.py)."""
        broken = candidate_to_repair(state, self.settings.repair_turns)
        return await fix_candidate(self.agents[state.item.language], state, broken)

    def answer_again_or_judge(self, state: ItemState) -> str:
        """A repair while one is due (`candidate_to_repair`); until a pass, another round while no candidate passed
        and more may be written, as long as another candidate could pass: the gates dropped every one so far, or the
        latest run ended in a way another answer may change (`answer_again_after`; not when the tester failed or the
        sandbox lacks the language: nothing ran); else the judge."""
        if state.error is None and candidate_to_repair(state, self.settings.repair_turns) is not None:
            return "repair"
        if not self._another_candidate(state.answer_calls) or any(map(passed, state.executions)):
            return "judge"
        if len(state.screened_out) == len(state.candidates):
            return "write_answers"
        latest = next((execution for execution in reversed(state.executions) if execution is not None), None)
        return "write_answers" if latest is not None and latest.status in self.settings.answer_again_after \
            else "judge"

    async def judge_candidates(self, state: ItemState) -> dict:
        """The judge scores every candidate the gates kept, with the `failed_tests` gate on only those that
        could win: when each of them failed its tests the item is rejected without a judge call (with
        `judge.accept_only_tested`, also when their code did not compile or run: no verdict could accept it),
        and when some passed, the ones that did not pass lose without one (they stay the rejected side of DPO
        preferences). Vacuous tests, sandbox errors and untested candidates are the judge's to weigh."""
        item = state.item
        executions = state.executions or [None] * len(state.candidates)
        kept = [index for index in range(len(state.candidates)) if index not in state.screened_out]
        screened_out = dict(state.screened_out)
        if self.settings.gates.failed_tests:
            ends = {executions[index].status if executions[index] is not None else None for index in kept}
            if ends == {Status.FAILED}:
                return dropped("every candidate failed its tests")
            if self.judge.settings.accept_only_tested and ends and ends <= CODE_FAILURES:
                return dropped(f"no candidate passed its tests ({', '.join(sorted(end.value for end in ends))}), "
                               "and only a pass can be accepted")
            winners = [index for index in kept if passed(executions[index])]
            if winners:
                for index in kept:
                    if executions[index] is not None and not passed(executions[index]):
                        screened_out[index] = (f"its tests ended {executions[index].status.value} where "
                                               f"candidate {winners[0] + 1}'s passed")
                kept = [index for index in kept if index not in screened_out]

        async def judged(index: int) -> Verdict | None:
            if index not in kept:
                return None
            execution = executions[index]
            return await self.judge.judge(item.language, state.instruction.text, state.candidates[index].text,
                                          item.seed, execution_status=execution.status.value if execution else None,
                                          execution_note=execution_note(execution), testable=not state.untestable)

        try:
            verdicts = list(await asyncio.gather(*(judged(index) for index in range(len(state.candidates)))))
        except ITEM_ERRORS as exc:
            return ended(PairStatus.failed, f"judge: {exc}")
        best = best_candidate(verdicts, state.executions)
        return {"screened_out": screened_out, "verdicts": verdicts, "answer": state.candidates[best],
                "verdict": verdicts[best], "status": verdicts[best].route}

    def remember(self, state: ItemState) -> dict:
        memory = self.agents[state.item.language].memory
        if memory is not None and state.memory_id is not None and state.status is PairStatus.accepted:
            memory.mark(state.memory_id, PairStatus.accepted, state.answer.text)
        return {}
