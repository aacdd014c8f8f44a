"""A pulled export of pushed imports converts like the task file it came from (annotators, offset-less statements)."""

from annotation.push import server_annotations
from corpus.codebook import load_codebook
from corpus.convert import Document, Scheme, convert_task
from corpus.tasks import IMPORTED_KEY, relation_item, restore_imported, span_items, statement_item

TEXT = "Obama praised Lynch. Congress stalled the nomination."


def _task_file() -> dict:
    result = span_items("a", 0, 5, "Obama", "Actor", "Barack Obama", in_codebook=False)
    result += span_items("p", 14, 19, "Lynch", "Policy", "Loretta Lynch", in_codebook=False)
    result += [relation_item("a", "p", "support"),
               statement_item("s1", "Congress", "Loretta Lynch", "oppose", 21, 53)]
    return {"data": {"text": TEXT, "article_id": "seesaw-1"},
            "annotations": [{"id": 1, "annotator": "seesaw:gold", "ground_truth": True, "result": result}]}


def _as_pulled(task_file: dict) -> dict:
    """What push sends and a pull gives back: no statement items in results, annotator names in the data."""
    sent, kept = server_annotations(task_file, "t.json")
    for ann in sent:
        ann["import_id"] = ann.pop("id")
        ann.update(id=900 + ann["import_id"], completed_by=1)
    return {"id": 7, "data": {**task_file["data"], IMPORTED_KEY: kept}, "annotations": sent}


def test_restore_puts_back_statements_and_annotators():
    pulled = _as_pulled(_task_file())
    assert not any(i.get("type") == "statement" for a in pulled["annotations"] for i in a["result"])
    restored = restore_imported(pulled)
    assert IMPORTED_KEY not in restored["data"] and IMPORTED_KEY in pulled["data"], "input left unchanged"
    [ann] = restored["annotations"]
    assert ann["annotator"] == "seesaw:gold"
    assert [i["id"] for i in ann["result"] if i.get("type") == "statement"] == ["s1"]


def test_build_of_a_pulled_export_keeps_every_statement():
    scheme = Scheme.from_codebook(load_codebook())
    doc = Document("seesaw-1", TEXT)
    direct = convert_task(_task_file(), doc, scheme)
    pulled = convert_task(_as_pulled(_task_file()), doc, scheme)
    assert len(direct.statements) == len(pulled.statements) == 2
    assert {r["annotator"] for r in pulled.statements} == {"seesaw:gold"}
    assert sorted(r["stance"] for r in pulled.statements) == sorted(r["stance"] for r in direct.statements)
