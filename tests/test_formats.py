"""Real export formats load through a config alone; ids can be pseudonymised."""

import warnings

import pandas as pd
import pytest

from cxkit._formats import check_day_month, format_hint, parse_numbers, swapped_format
from cxkit.cli import main as cli_main
from cxkit.exceptions import QuarantineWarning
from cxkit.io import read_support_data

EUROPEAN_CONFIG = """\
currency: EUR
timezone: Europe/Berlin
as_of: "2025-01-01"
tables:
  customers:
    path: Kunden.csv
    columns: {customer_id: Kundennummer, signup_at: Angemeldet am}
    datetime_format: "%d.%m.%Y"
    read_options: {delimiter: ";", decimal: ",", thousands: ".", encoding: latin-1}
  revenue:
    path: Rechnungen.csv
    columns: {customer_id: Kunde, paid_at: Rechnungsdatum, amount: Betrag, currency: Währung}
    datetime_format: "%d.%m.%Y"
    read_options: {delimiter: ";", decimal: ",", thousands: ".", encoding: latin-1}
  tickets:
    path: Tickets.csv
    columns: {ticket_id: Nr, customer_id: Kunde, created_at: Erstellt, resolved_at: Gelöst,
              first_response_minutes: Erste Antwort (Min.)}
    datetime_format: "%d.%m.%Y %H:%M"
    read_options: {delimiter: ";", decimal: ",", thousands: ".", encoding: latin-1}
"""


def write_european_export(folder):
    """A European Excel export: latin-1, ';', decimal commas, thousands dots, day first."""
    (folder / "Kunden.csv").write_bytes(
        "Kundennummer;Angemeldet am;Sitze\n00017;15.01.2024;1.250\n00018;03.02.2024;12\n"
        .encode("latin-1"))
    (folder / "Rechnungen.csv").write_bytes(
        "Kunde;Rechnungsdatum;Betrag;Währung\n00017;01.03.2024;1.234,50;EUR\n"
        "00018;02.03.2024;99,90;EUR\n00018;02.04.2024;-0,5;EUR\n".encode("latin-1"))
    (folder / "Tickets.csv").write_bytes(
        "Nr;Kunde;Erstellt;Gelöst;Erste Antwort (Min.)\n1;00017;05.03.2024 09:30;05.03.2024 11:00;"
        "12,5\n2;00018;13.03.2024 14:00;;1.440\n".encode("latin-1"))


def test_european_excel_export_loads_through_the_config(tmp_path):
    (tmp_path / "cxkit.yaml").write_text(EUROPEAN_CONFIG, encoding="utf-8")
    write_european_export(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = read_support_data(tmp_path / "cxkit.yaml")
    assert data.revenue["amount"].tolist() == [1234.5, 99.9]
    assert data.revenue["customer_id"].tolist() == ["00017", "00018"]  # ids keep their zeros
    assert data.quarantine["revenue"]["rule"].tolist() == ["negative_amount"]
    assert data.tickets["first_response_minutes"].tolist() == [12.5, 1440.0]
    assert data.tickets["created_at"].tolist() == [pd.Timestamp("2024-03-05 09:30"),
                                                   pd.Timestamp("2024-03-13 14:00")]
    assert data.customers["signup_at"].tolist() == [pd.Timestamp("2024-01-15"),
                                                    pd.Timestamp("2024-02-03")]
    assert data.customers["sitze"].tolist() == [1250.0, 12.0]  # unmapped, read as a number
    assert [str(w.message) for w in caught if w.category is QuarantineWarning] == [
        "1 rows quarantined (revenue.negative_amount: 1). See SupportData.quality and "
        "SupportData.quarantine."]


@pytest.mark.parametrize("fmt, scale", [("epoch_s", 1), ("epoch_ms", 1000)])
def test_epoch_timestamps_load_through_the_config(tmp_path, fmt, scale):
    (tmp_path / "c.csv").write_text(f"customer_id,signup_at\nc1,{1704067200 * scale}\n"
                                    f"c2,{1704153600 * scale}\n")
    (tmp_path / "t.csv").write_text(
        "id,account,opened,closed\n"
        f"1,c1,{1709280000 * scale},{1709290800 * scale}\n2,c2,{1709380000 * scale},\n")
    yaml = (f"timezone: Europe/Berlin\nas_of: '2025-01-01'\ntables:\n"
            f"  customers: {{path: c.csv, datetime_format: {fmt}}}\n"
            f"  tickets: {{path: t.csv, datetime_format: {fmt}, columns: {{ticket_id: id, "
            "customer_id: account, created_at: opened, resolved_at: closed}}\n")
    (tmp_path / "cxkit.yaml").write_text(yaml)
    data = read_support_data(tmp_path / "cxkit.yaml")
    # Unix time is UTC: 2024-03-01 08:00 UTC is 09:00 in Berlin (winter time)
    assert data.tickets["created_at"].tolist() == [pd.Timestamp("2024-03-01 09:00"),
                                                   pd.Timestamp("2024-03-02 12:46:40")]
    assert data.tickets["resolved_at"].iloc[0] == pd.Timestamp("2024-03-01 12:00")
    assert pd.isna(data.tickets["resolved_at"].iloc[1])
    assert data.customers["signup_at"].tolist() == [pd.Timestamp("2024-01-01 01:00"),
                                                    pd.Timestamp("2024-01-02 01:00")]
    assert data.quarantine["tickets"].empty


def _pseudonymised_export(tmp_path):
    (tmp_path / "c.csv").write_text("customer_id,signup_at\nACME-1,2024-01-01\nACME-2,2024-01-01\n"
                                    "ACME-2,2024-02-01\n")
    (tmp_path / "t.csv").write_text("ticket_id,customer_id,created_at\n1,ACME-1,2024-03-01\n"
                                    "2,ACME-2,2024-03-02\n3,ACME-9,2024-03-03\n")
    (tmp_path / "cxkit.yaml").write_text("as_of: '2025-01-01'\npseudonymise: true\ntables:\n"
                                         "  customers: c.csv\n  tickets: t.csv\n")
    return tmp_path / "cxkit.yaml"


def test_pseudonymised_ids_reach_no_table_quarantine_or_file(tmp_path, monkeypatch, capsys):
    config = _pseudonymised_export(tmp_path)
    monkeypatch.setenv("CXKIT_PSEUDONYM_KEY", "a secret of thirty-two characters")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuarantineWarning)
        data = read_support_data(config)
        again = read_support_data(config)
        monkeypatch.setenv("CXKIT_PSEUDONYM_KEY", "another secret of enough length")
        other = read_support_data(config)
    ids = data.customers["customer_id"].tolist()
    assert len(ids) == 2 and all(i.startswith("p") and len(i) == 21 for i in ids)
    assert data.tickets["customer_id"].tolist() == ids  # joins still hold
    assert again.customers["customer_id"].tolist() == ids  # same key, same pseudonyms
    assert not set(other.customers["customer_id"]) & set(ids)  # another key, others
    quarantined = pd.concat(data.quarantine.values())
    assert len(quarantined) == 2 and not quarantined["customer_id"].str.contains("ACME").any()
    monkeypatch.setenv("CXKIT_PSEUDONYM_KEY", "a secret of thirty-two characters")
    assert cli_main(["validate", str(config), "--quarantine-dir", str(tmp_path / "q")]) == 0
    written = "".join(p.read_text() for p in (tmp_path / "q").glob("*.csv"))
    assert written and "ACME" not in written and "ACME" not in capsys.readouterr().out


def test_number_and_date_helpers():
    text = pd.Series(["1.234,5", "7", None, "2.5", "1 000,25"])
    assert parse_numbers(text, decimal=",", thousands=".").tolist()[:2] == [1234.5, 7.0]
    assert pd.isna(parse_numbers(text, decimal=",").iloc[3])  # "2.5" is no number here
    assert parse_numbers(text, decimal=",", thousands=" ").iloc[4] == 1000.25
    assert swapped_format("%d/%m/%Y %H:%M") == "%m/%d/%Y %H:%M" and swapped_format("%Y") is None
    both = pd.Series(["01/02/2024", "02/03/2024"])
    assert "cannot tell day from month" in format_hint(both)
    parse = lambda t, f: pd.to_datetime(t, format=f, errors="coerce")  # noqa: E731
    swapped = pd.Series([f"{d:02d}/02/2024" for d in range(1, 21)])  # day first, 20 rows
    failed = parse(swapped, "%m/%d/%Y").isna()
    assert check_day_month(swapped, failed, "%m/%d/%Y", None, parse)[1:] == (
        "%d/%m/%Y", 20, pytest.approx(12 / 20), True)
    mixed = pd.concat([swapped, pd.Series(["02/25/2024"] * 20)], ignore_index=True)
    failed = parse(mixed, "%m/%d/%Y").isna()
    assert check_day_month(mixed, failed, "%m/%d/%Y", None, parse)[4] is False
    typo = pd.Series(["02/01/2024"] * 20 + ["13/02/2024"])  # one month 13: a typo, not a swap
    assert check_day_month(typo, parse(typo, "%m/%d/%Y").isna(), "%m/%d/%Y", None, parse) is None
