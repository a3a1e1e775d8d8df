"""What users read: store rows in; DataFrames, plotly figures and HTML out.

``bench_result`` (a benchmark's result with figures and HTML), ``eval_result`` and
``eval_history`` (tool-call evals), ``results`` (history, leaderboard, load, publish, audit
log), ``charts``, ``display`` and ``report``. Statistics come from ``stats``; nothing here
measures or scores.
"""
