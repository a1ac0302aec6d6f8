"""The dataset card reports the share of pairs whose instruction repeats an earlier one, exactly or nearly."""

from polyforge.export.cards import InstructionDuplicates, RecordStats, dataset_card
from polyforge.export.filters import ExportFilter

LONG = ("Write a function that reads a list of integers from standard input, removes every negative value, "
        "sorts the remaining values in ascending order, and prints them on one line separated by {}.")


def sft(pair_id: int, instruction: str) -> dict:
    return {"messages": [{"role": "user", "content": instruction}, {"role": "assistant", "content": "x"}],
            "language": "Python", "status": "accepted", "campaign_id": 1, "checklist_hash": "h", "score": 7.0,
            "pair_id": pair_id}


def test_exact_and_near_repeats_are_counted_once_per_pair():
    duplicates = InstructionDuplicates()
    duplicates.add(1, LONG.format("spaces"))
    duplicates.add(2, "  " + LONG.format("spaces").upper())  # exact after case and whitespace are folded
    duplicates.add(3, LONG.format("commas"))  # one word changed of 33: near
    duplicates.add(4, "Parse an ISO 8601 date and return the weekday name in English.")
    duplicates.add(4, "Parse an ISO 8601 date and return the weekday name in English.")  # same pair: a DPO row
    assert (duplicates.pairs, duplicates.exact, duplicates.near) == (4, 1, 1)
    assert duplicates.share == 0.5


def test_the_card_states_the_duplicate_share():
    stats = RecordStats([sft(1, LONG.format("spaces")), sft(2, LONG.format("spaces")),
                         sft(3, "Reverse a string."), sft(4, "Count the vowels in a word.")])
    assert len(list(stats)) == 4
    card = dataset_card(stats, "sft", "SFT", "jsonl", "sft.jsonl", ExportFilter())
    assert "duplicate instructions: 25.0% of 4 pairs repeat an earlier pair's instruction (1 exactly, 0 nearly" in card
    assert "goal: at most 1%" in card


def test_rows_without_an_instruction_leave_the_line_out():
    fim = {key: value for key, value in sft(1, "x").items() if key != "messages"}
    stats = RecordStats([fim])
    list(stats)
    assert "duplicate instructions" not in dataset_card(stats, "fim", "FIM", "jsonl", "fim.jsonl", ExportFilter())
