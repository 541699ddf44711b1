"""A catalogue of bad inputs: every rule and every structural error, one case each at least.

Each row case appends bad rows to a small clean export and asserts the rule that
set them aside, the count in the data-quality table and in the warning, and that
kept + quarantined = input in every table. Each structural case asserts the
error type and the words of its one-line message (file, column, fix).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import pandas as pd
import pytest

from cxkit.exceptions import ConfigError, QuarantineWarning, SchemaError, SourceError
from cxkit.io import read_support_data

N_CUSTOMERS, N_TICKETS, N_PAYMENTS, N_SURVEYS = 20, 40, 40, 20


def base_tables() -> dict[str, pd.DataFrame]:
    """A clean export: 20 customers, 40 tickets, 40 payments, 20 survey answers in 2024."""
    day = pd.Timedelta(days=1)
    t0 = pd.Timestamp("2024-01-01")
    customers = pd.DataFrame({
        "customer_id": [f"c{i:02d}" for i in range(1, N_CUSTOMERS + 1)],
        "signup_at": [(t0 + i * day).strftime("%Y-%m-%d") for i in range(N_CUSTOMERS)],
        "churned_at": [""] * (N_CUSTOMERS - 1) + ["2024-12-15"],
        "plan": ["pro", "basic"] * (N_CUSTOMERS // 2)})
    created = [pd.Timestamp("2024-02-01 10:00") + 7 * i * day for i in range(N_TICKETS)]
    tickets = pd.DataFrame({
        "ticket_id": [f"t{i:02d}" for i in range(1, N_TICKETS + 1)],
        "customer_id": [f"c{i % N_CUSTOMERS + 1:02d}" for i in range(N_TICKETS)],
        "created_at": [c.strftime("%Y-%m-%d %H:%M") for c in created],
        "resolved_at": [(c + pd.Timedelta(hours=3)).strftime("%Y-%m-%d %H:%M") for c in created],
        "first_response_minutes": ["30"] * N_TICKETS, "contacts": ["1"] * N_TICKETS,
        "csat": ["4"] * N_TICKETS, "ces": ["5"] * N_TICKETS, "channel": ["email"] * N_TICKETS})
    revenue = pd.DataFrame({
        "customer_id": [f"c{i % N_CUSTOMERS + 1:02d}" for i in range(N_PAYMENTS)],
        "paid_at": [(pd.Timestamp("2024-02-15") + 7 * i * day).strftime("%Y-%m-%d")
                    for i in range(N_PAYMENTS)],
        "amount": [f"{10 + i}.50" for i in range(N_PAYMENTS)], "currency": ["USD"] * N_PAYMENTS})
    surveys = pd.DataFrame({
        "customer_id": [f"c{i + 1:02d}" for i in range(N_SURVEYS)],
        "answered_at": [(pd.Timestamp("2024-03-01") + 10 * i * day).strftime("%Y-%m-%d")
                        for i in range(N_SURVEYS)],
        "nps": [str(i % 11) for i in range(N_SURVEYS)]})
    return {"customers": customers, "tickets": tickets, "revenue": revenue, "surveys": surveys}


def first(table: str, **changes) -> dict:
    """A copy of the table's first clean row with ``changes`` (a fresh id for keyed tables)."""
    row = base_tables()[table].iloc[0].to_dict()
    fresh = {"customers": {"customer_id": "c99"}, "tickets": {"ticket_id": "t99"}}.get(table, {})
    return {**row, **fresh, **changes}


@dataclass
class Case:
    """One bad input: rows added per table, config changes, and what must happen."""

    id: str
    add: dict = field(default_factory=dict)  # table -> rows appended to the clean export
    config: dict = field(default_factory=dict)  # merged into the config (per table or top level)
    counts: dict = field(default_factory=dict)  # (table, rule) -> rows quarantined
    error: type | None = None
    words: tuple = ()  # words of the error message
    split: str | None = None  # write this table as two overlapping monthly files
    env: dict = field(default_factory=dict)


ROW_CASES = [
    # --- the rules that held before -------------------------------------------------------
    Case("customer-missing-id", {"customers": [first("customers", customer_id="")]},
         counts={("customers", "missing_required"): 1}),
    Case("customer-unparseable-signup", {"customers": [first("customers", signup_at="soon")]},
         counts={("customers", "unparseable_value"): 1}),
    Case("customer-duplicate-id", {"customers": [first("customers", customer_id="c03",
                                                      plan="enterprise")]},
         counts={("customers", "duplicate_id"): 1}),
    Case("customer-churned-before-signup",
         {"customers": [first("customers", signup_at="2024-05-01", churned_at="2024-04-01")]},
         counts={("customers", "churned_before_signup"): 1}),
    Case("customer-future-signup", {"customers": [first("customers", signup_at="2031-01-01")]},
         counts={("customers", "future_date"): 1}),
    Case("ticket-missing-created", {"tickets": [first("tickets", created_at="")]},
         counts={("tickets", "missing_required"): 1}),
    Case("ticket-csat-text", {"tickets": [first("tickets", csat="great")]},
         counts={("tickets", "unparseable_value"): 1}),
    Case("ticket-duplicate-id", {"tickets": [first("tickets", ticket_id="t01", csat="2")]},
         counts={("tickets", "duplicate_id"): 1}),
    Case("ticket-resolved-before-created",
         {"tickets": [first("tickets", resolved_at="2024-02-01 09:00")]},
         counts={("tickets", "resolved_before_created"): 1}),
    Case("ticket-negative-first-response",
         {"tickets": [first("tickets", first_response_minutes="-5")]},
         counts={("tickets", "first_response_before_created"): 1}),
    Case("ticket-zero-contacts", {"tickets": [first("tickets", contacts="0")]},
         counts={("tickets", "contacts_below_one"): 1}),
    Case("ticket-csat-6", {"tickets": [first("tickets", csat="6")]},
         counts={("tickets", "csat_out_of_range"): 1}),
    Case("ticket-ces-0", {"tickets": [first("tickets", ces="0")]},
         counts={("tickets", "ces_out_of_range"): 1}),
    Case("ticket-future-resolution", {"tickets": [first("tickets", resolved_at="2030-01-01")]},
         counts={("tickets", "future_date"): 1}),
    Case("ticket-unknown-customer", {"tickets": [first("tickets", customer_id="ghost")]},
         counts={("tickets", "unknown_customer"): 1}),
    Case("ticket-of-quarantined-customer",
         {"customers": [first("customers", signup_at="soon")],
          "tickets": [first("tickets", customer_id="c99")]},
         counts={("customers", "unparseable_value"): 1, ("tickets", "unknown_customer"): 1}),
    Case("payment-negative", {"revenue": [first("revenue", amount="-10")]},
         counts={("revenue", "negative_amount"): 1}),
    Case("payment-unknown-customer", {"revenue": [first("revenue", customer_id="ghost")]},
         counts={("revenue", "unknown_customer"): 1}),
    Case("payment-amount-text", {"revenue": [first("revenue", amount="ten")]},
         counts={("revenue", "unparseable_value"): 1}),
    Case("survey-nps-11", {"surveys": [first("surveys", nps="11")]},
         counts={("surveys", "nps_out_of_range"): 1}),
    Case("survey-unknown-customer", {"surveys": [first("surveys", customer_id="ghost")]},
         counts={("surveys", "unknown_customer"): 1}),
    # --- plausibility: duplicates ---------------------------------------------------------
    Case("payment-duplicated-invoice-rows", {"revenue": [first("revenue")] * 3},
         counts={("revenue", "duplicate_row"): 3}),
    Case("ticket-identical-row", {"tickets": [base_tables()["tickets"].iloc[4].to_dict()]},
         counts={("tickets", "duplicate_row"): 1}),
    Case("survey-identical-row", {"surveys": [first("surveys")] * 2},
         counts={("surveys", "duplicate_row"): 2}),
    Case("customer-identical-row", {"customers": [first("customers", customer_id="c01")]},
         counts={("customers", "duplicate_row"): 1}),
    Case("duplicate-rows-allowed", {"revenue": [first("revenue")]},
         config={"plausibility": {"duplicate_rows": False}}, counts={}),
    # --- plausibility: durations ----------------------------------------------------------
    Case("ticket-resolved-after-400-days",
         {"tickets": [first("tickets", resolved_at="2025-03-07 10:00")]},
         counts={("tickets", "resolution_too_long"): 1}),
    Case("ticket-resolution-limit-from-config",
         {"tickets": [first("tickets", resolved_at="2024-03-12 10:00")]},
         config={"plausibility": {"max_resolution_days": 30}},
         counts={("tickets", "resolution_too_long"): 1}),
    Case("ticket-first-response-after-50-days",
         {"tickets": [first("tickets", first_response_minutes=str(50 * 1440),
                            resolved_at="2024-04-01 10:00")]},
         counts={("tickets", "first_response_too_long"): 1}),
    # --- plausibility: dates outside the window -------------------------------------------
    Case("ticket-year-typo", {"tickets": [first("tickets", created_at="2014-02-01 10:00",
                                                resolved_at="2014-02-01 13:00"),
                                          first("tickets", ticket_id="t98",
                                                created_at="2014-03-01 10:00")]},
         config={"plausibility": {"customer_span": False}},
         counts={("tickets", "implausible_date"): 2}),
    Case("payment-year-typo", {"revenue": [first("revenue", paid_at="2004-02-15")]},
         counts={("revenue", "implausible_date"): 1}),
    Case("survey-before-earliest", {"surveys": [first("surveys", answered_at="2023-06-01")]},
         config={"plausibility": {"earliest": "2024-01-01"}},
         counts={("surveys", "implausible_date"): 1}),
    Case("customer-before-earliest", {"customers": [first("customers", signup_at="1999-01-01")]},
         config={"plausibility": {"earliest": "2015-01-01"}},
         counts={("customers", "implausible_date"): 1}),
    # --- plausibility: the customer's active span, currencies -------------------------------
    Case("ticket-before-signup", {"tickets": [first("tickets", customer_id="c10",
                                                    created_at="2024-01-05 10:00",
                                                    resolved_at="2024-01-05 11:00")]},
         counts={("tickets", "outside_customer_span"): 1}),
    Case("ticket-after-churn", {"tickets": [first("tickets", customer_id="c20",
                                                  created_at="2024-12-20 10:00",
                                                  resolved_at="2024-12-20 11:00")]},
         counts={("tickets", "outside_customer_span"): 1}),
    Case("ticket-after-churn-allowed", {"tickets": [first("tickets", customer_id="c20",
                                                          created_at="2024-12-20 10:00",
                                                          resolved_at="2024-12-20 11:00")]},
         config={"plausibility": {"customer_span": False}}, counts={}),
    Case("payment-in-euro", {"revenue": [first("revenue", currency="EUR"),
                                         first("revenue", currency=" usd ", amount="3")]},
         counts={("revenue", "other_currency"): 1}),
    # --- overlapping exports ---------------------------------------------------------------
    Case("overlapping-files-keep-last", split="tickets",
         config={"tickets": {"dedupe": {"keep": "last", "by": "file_order"}}},
         counts={("tickets", "superseded"): 5}),
    Case("overlapping-files-by-updated-at", split="tickets",
         config={"tickets": {"dedupe": {"keep": "last", "by": "updated_at"}}},
         counts={("tickets", "superseded"): 5}),
    Case("overlapping-files-undeclared", split="tickets",
         counts={("tickets", "duplicate_id"): 5}),
    Case("overlapping-payments-by-key", split="revenue",
         config={"revenue": {"dedupe": {"keep": "last", "key": ["customer_id", "paid_at"]}}},
         counts={("revenue", "superseded"): 5}),
    # --- European number format: a value in the wrong format -------------------------------
    Case("decimal-point-in-decimal-comma-export", {"revenue": [first("revenue", amount="7.25")]},
         config={"revenue": {"read_options": {"decimal": ","}},
                 "_amounts_with_comma": True},
         counts={("revenue", "unparseable_value"): 1}),
]

STRUCTURAL_CASES = [
    Case("day-month-swapped", config={"tickets": {"datetime_format": "%m/%d/%Y %H:%M",
                                                  "_write_dates": "%d/%m/%Y %H:%M"}},
         error=SchemaError, words=("'created_at' in tickets.csv", "%d/%m/%Y %H:%M for all",
                                   "%m/%d/%Y %H:%M", "for only", "datetime_format")),
    Case("day-month-swapped-in-one-file", split="tickets",
         config={"tickets": {"datetime_format": "%m/%d/%Y %H:%M",
                             "_write_dates": "%m/%d/%Y %H:%M", "_swap_second_file": True}},
         error=SchemaError, words=("tickets-2.csv", "%d/%m/%Y %H:%M for all", "re-export")),
    Case("day-month-mixed-rows", config={"tickets": {"datetime_format": "%m/%d/%Y %H:%M",
                                                     "_write_dates": "%m/%d/%Y %H:%M",
                                                     "_mix_rows": True}},
         error=SchemaError, words=("'created_at' in tickets.csv mixes day/month orders",
                                   "cannot be told apart", "re-export")),
    Case("semicolon-file-default-delimiter", config={"tickets": {"_sep": ";"}},
         error=SourceError, words=("tickets.csv", "separated by ';'", "read_options.delimiter")),
    Case("tab-file-default-delimiter", config={"revenue": {"_sep": "\t"}},
         error=SourceError, words=("revenue.csv", "separated by '\\\\t'", "delimiter")),
    Case("bad-datetime-directive", config={"tickets": {"datetime_format": "%Y-%m-%Q"}},
         error=ConfigError, words=("tables.tickets.datetime_format", "'%Y-%m-%Q'", "strftime")),
    Case("datetime-format-without-codes", config={"tickets": {"datetime_format": "dd/mm/yyyy"}},
         error=ConfigError, words=("tables.tickets.datetime_format", "epoch_s")),
    Case("dates-not-iso-without-format", config={"customers": {"_write_dates": "%d.%m.%Y"}},
         error=SchemaError, words=("customers.csv", "'signup_at'", "read as '%d.%m.%Y'",
                                   "datetime_format")),
    Case("epoch-seconds-read-as-milliseconds",
         config={"tickets": {"datetime_format": "epoch_ms", "_write_dates": "epoch_s"}},
         error=SchemaError, words=("tickets.csv", "in seconds, not milliseconds", "epoch_s")),
    Case("epoch-without-format", config={"tickets": {"_write_dates": "epoch_s"}},
         error=SchemaError,
         words=("tickets.csv", "created_at", "Unix time: datetime_format: epoch_s")),
    Case("most-values-unreadable", config={"tickets": {"_csat_words": True}},
         error=SchemaError, words=("tickets.csv", "'csat'", "cannot be read as a number",
                                   "values.csat")),
    Case("mapped-column-missing", config={"tickets": {"columns": {"csat": "Satisfaction"}}},
         error=SchemaError, words=("tickets.csv", "'Satisfaction'", "not found")),
    Case("required-column-missing", config={"revenue": {"_drop": "amount"}},
         error=SchemaError, words=("revenue.csv", "required column 'amount'",
                                   "tables.revenue.columns.amount")),
    Case("file-missing", config={"surveys": {"path": "nowhere.csv"}},
         error=SourceError, words=("nowhere.csv", "file not found", "tables.surveys.path")),
    Case("empty-export", config={"surveys": {"_empty": True}},
         error=SourceError, words=("surveys.csv", "no rows")),
    Case("pseudonymise-without-key", config={"pseudonymise": True},
         env={"CXKIT_PSEUDONYM_KEY": None},
         error=ConfigError, words=("CXKIT_PSEUDONYM_KEY", "is not set")),
    Case("plausibility-negative-limit", config={"plausibility": {"max_resolution_days": -1}},
         error=ConfigError, words=("plausibility.max_resolution_days", "positive number")),
    Case("plausibility-unknown-key", config={"plausibility": {"max_days": 3}},
         error=ConfigError, words=("plausibility", "unknown key 'max_days'")),
    Case("dedupe-without-key-on-revenue", config={"revenue": {"dedupe": {"keep": "last"}}},
         error=ConfigError, words=("tables.revenue.dedupe", "no id column", "key:")),
    Case("dedupe-unknown-column", config={"tickets": {"dedupe": {"by": "Updated"}}},
         error=ConfigError, words=("tables.tickets.dedupe", "'Updated'")),
    Case("dedupe-keep-invalid", config={"tickets": {"dedupe": {"keep": "newest"}}},
         error=ConfigError, words=("tables.tickets.dedupe.keep", "'newest'")),
]

CASES = ROW_CASES + STRUCTURAL_CASES
PRIVATE = ("_write_dates", "_mix_rows", "_sep", "_swap_second_file", "_csat_words", "_drop", "_empty",
           "_amounts_with_comma")


def _dates(values: pd.Series, fmt: str) -> pd.Series:
    ts = pd.to_datetime(values.replace("", None))
    if fmt == "epoch_s":
        out = (ts - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)
        return out.astype("Int64").astype(str).replace("<NA>", "")
    return ts.dt.strftime(fmt).fillna("")


def write_export(tmp_path, case: Case) -> dict:
    """Write the clean export plus the case's rows; return the source config."""
    tables = base_tables()
    config = {"base_dir": str(tmp_path), "as_of": "2025-06-01", "tables": {}}
    for key, value in case.config.items():
        if key not in tables and key not in PRIVATE:
            config[key] = value
    for name, frame in tables.items():
        spec = {k: v for k, v in case.config.get(name, {}).items()}
        frame = pd.concat([frame, pd.DataFrame(case.add.get(name, []))], ignore_index=True)
        frame = frame.fillna("")
        if case.config.get("_amounts_with_comma") and name == "revenue":
            frame["amount"] = [a.replace(".", ",") if a != "7.25" else a for a in frame["amount"]]
        if spec.get("_write_dates"):
            for col in ("signup_at", "churned_at", "created_at", "resolved_at", "paid_at",
                        "answered_at"):
                if col in frame:
                    frame[col] = _dates(frame[col], spec["_write_dates"])
        if spec.get("_mix_rows"):  # every other row written day first
            odd = frame.index % 2 == 1
            frame.loc[odd, "created_at"] = _dates(pd.to_datetime(
                frame.loc[odd, "created_at"], format=spec["_write_dates"]), "%d/%m/%Y %H:%M")
        if spec.get("_csat_words"):
            frame["csat"] = ["good", "bad"] * (len(frame) // 2)
        if spec.get("_drop"):
            frame = frame.drop(columns=spec["_drop"])
        if spec.get("_empty"):
            frame = frame.iloc[:0]
        sep = spec.get("_sep", ",")
        entry = {k: v for k, v in spec.items() if k not in PRIVATE}
        entry.setdefault("path", f"{name}.csv")
        if case.split == name:  # two monthly exports; the second re-exports 5 rows
            older = frame.iloc[:25].copy()
            newer = frame.iloc[20:].copy()
            if name == "tickets":
                older["updated_at"] = "2024-05-01"
                newer["updated_at"] = "2024-09-01"
                older.loc[older.index[20:23], "resolved_at"] = ""  # stale "open" versions
                if spec.get("_swap_second_file"):
                    newer["created_at"] = _dates(pd.to_datetime(newer["created_at"],
                                                                format=spec["_write_dates"]),
                                                 "%d/%m/%Y %H:%M")
                    newer["resolved_at"] = _dates(pd.to_datetime(newer["resolved_at"],
                                                                 format=spec["_write_dates"]),
                                                  "%d/%m/%Y %H:%M")
            older.to_csv(tmp_path / f"{name}-1.csv", index=False, sep=sep)
            newer.to_csv(tmp_path / f"{name}-2.csv", index=False, sep=sep)
            entry["path"] = f"{name}-*.csv"
        else:
            frame.to_csv(tmp_path / f"{name}.csv", index=False, sep=sep)
        config["tables"][name] = entry
    return config


def rows_written(tmp_path, case: Case) -> dict[str, int]:
    out = {}
    for name in base_tables():
        out[name] = sum(len(pd.read_csv(p, dtype=str)) for p in tmp_path.glob(f"{name}*.csv"))
    return out


@pytest.mark.parametrize("case", ROW_CASES, ids=[c.id for c in ROW_CASES])
def test_row_case_is_quarantined_and_counted(tmp_path, case):
    config = write_export(tmp_path, case)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = read_support_data(config)
    quality = data.quality.set_index(["table", "rule"])["rows_quarantined"]
    assert {k: int(v) for k, v in quality[quality > 0].items()} == case.counts
    warned = " ".join(str(w.message) for w in caught if issubclass(w.category, QuarantineWarning))
    for (table, rule), n in case.counts.items():
        assert f"{table}.{rule}: {n}" in warned
        assert (data.quarantine[table]["rule"] == rule).sum() == n
    assert bool(warned) == bool(case.counts)
    for table, n_in in rows_written(tmp_path, case).items():  # nothing is silently dropped
        kept, set_aside = len(getattr(data, table)), len(data.quarantine[table])
        assert kept + set_aside == n_in, table
        assert (data.quality.loc[data.quality["table"] == table, "rows_in"] == n_in).all()


@pytest.mark.parametrize("case", STRUCTURAL_CASES, ids=[c.id for c in STRUCTURAL_CASES])
def test_structural_case_stops_with_one_line(tmp_path, case, monkeypatch):
    for key, value in case.env.items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    config = write_export(tmp_path, case)
    with pytest.raises(case.error) as info:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", QuarantineWarning)
            read_support_data(config)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    for word in case.words:
        assert word in message, (word, message)


def test_catalogue_size_and_classes():
    assert len(CASES) >= 40
    rules = {rule for c in ROW_CASES for (_, rule) in c.counts}
    assert {"duplicate_row", "resolution_too_long", "first_response_too_long",
            "implausible_date", "outside_customer_span", "other_currency",
            "superseded"} <= rules


def test_superseded_keeps_the_newer_version(tmp_path):
    case = next(c for c in ROW_CASES if c.id == "overlapping-files-keep-last")
    with pytest.warns(QuarantineWarning, match="tickets.superseded: 5"):
        data = read_support_data(write_export(tmp_path, case))
    tickets = data.tickets.set_index("ticket_id")
    assert tickets.loc[["t21", "t22", "t23"], "resolved_at"].notna().all()  # not the stale "open"
    assert len(tickets) == N_TICKETS
    stale = data.quarantine["tickets"]
    assert stale["source_file"].eq("tickets-1.csv").all() and len(stale) == 5
