"""Agents: a language agent per language (instructor and responder), the tester and the judge."""

from polyforge.agents.judge import JudgeAgent, Verdict
from polyforge.agents.language_agent import ITEM_ERRORS, LanguageAgent, StageOutput
from polyforge.agents.tester import TesterAgent, code_block

__all__ = ["ITEM_ERRORS", "JudgeAgent", "LanguageAgent", "StageOutput", "TesterAgent", "Verdict", "code_block"]
