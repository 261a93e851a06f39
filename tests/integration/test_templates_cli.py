"""`maildesk templates list|render`: a notification as it would be sent, before it is."""

from __future__ import annotations

from pathlib import Path

from maildesk.cli import main
from maildesk.outbound.render import TEMPLATE_NAMES
from tests.integration.daemon import write_config
from tests.mail import message


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_names_every_template_and_its_languages(tmp_path, capsys):
    cfg, _ = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}")
    code, out, _ = _run(capsys, "--config", str(cfg), "templates", "list")
    assert code == 0
    for name in TEMPLATE_NAMES:
        [line] = [x for x in out.splitlines() if x.split()[:1] == [name]]
        assert line.split()[1:] == ["de", "en", "fr", "it"]


def test_render_with_sample_data_prints_headers_text_and_html_file(tmp_path, capsys):
    cfg, _ = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}")
    code, out, _ = _run(capsys, "--config", str(cfg), "templates", "render", "ack", "--lang", "de")
    assert code == 0
    head, _, rest = out.partition("\n\n")
    headers = dict(line.split(": ", 1) for line in head.splitlines())
    assert headers["Subject"].startswith("[SUP-12] ")
    assert headers["From"].endswith("<support@help.example>")
    assert headers["Auto-Submitted"] == "auto-replied"
    assert "Guten Tag Anne Muster" in rest
    html_path = Path(rest.rsplit("--- HTML part: ", 1)[1].strip())
    assert "<html" in html_path.read_text(encoding="utf-8").lower()


def test_render_from_a_real_ticket_in_its_language(db_url, tmp_path, capsys):
    cfg, _ = write_config(tmp_path, db_url)
    request = tmp_path / "request.eml"
    request.write_bytes(
        message(
            subject="Fehler bei der Lohnabrechnung für Herrn Keller",
            body="Guten Tag, die Lohnabrechnung bricht seit heute ab. Version 12.4.1\n",
            sender="Hans Keller <hans@firma.ch>",
            message_id="<keller-1@firma.ch>",
        )
    )
    assert _run(capsys, "--config", str(cfg), "ingest", str(request))[0] == 0
    code, out, _ = _run(
        capsys,
        "--config",
        str(cfg),
        "templates",
        "render",
        "reminder_1",
        "--ticket",
        "sup-1",
        "--html",
    )
    assert code == 0
    assert "To: Hans Keller <hans@firma.ch>" in out or "To: hans@firma.ch" in out
    assert "[SUP-1] " in out
    assert "Fehler bei der Lohnabrechnung für Herrn Keller" in out
    assert "Guten Tag Hans Keller" in out  # the ticket's language, German
    assert "--- HTML part ---" in out
    code, _, err = _run(
        capsys, "--config", str(cfg), "templates", "render", "ack", "--ticket", "SUP-99"
    )
    assert code == 1
    assert "no ticket SUP-99" in err


def test_render_refuses_an_unknown_template(tmp_path, capsys):
    cfg, _ = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}")
    code, _, err = _run(capsys, "--config", str(cfg), "templates", "render", "welcome")
    assert code == 2
    assert "no template 'welcome'" in err
