"""Shipped reference data (no code): ``taxonomy.csv``, the reference case types, and ``corpus.jsonl``,
case texts labelled with them. See :mod:`fengqiao.triage.reference`; ``model-*.pkl`` here is built."""
