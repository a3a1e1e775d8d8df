"""Labels from data made plain text for plotly, which reads a subset of HTML in any text.

Plotly draws ``<a href>``, ``<b>``, ``<br>``, ``<i>``, ``<sub>``, ``<sup>``, ``<span>``,
``<em>``, ``<s>`` and ``<u>`` in titles, legends, tick labels and hover text. A run label,
model name, case id or suite name comes from data, and on a hub from other users' published
runs, so every one of them goes through :func:`plain_label` before it reaches a figure.
Hover templates take such a label through ``%{meta}``, never inside the template itself,
so a ``%{...}`` in a name is not a template field either.
"""

from __future__ import annotations

import re
from typing import Any

# A tag as plotly (and a browser) reads one: "<" or "</", a name right after it, up to ">".
_TAG = re.compile(r"</?[^\s<>/][^<>]*>|</>")
_BREAK = re.compile(r"(?i)^</?br\b")


def plain_label(text: Any) -> str:
    """``text`` with every tag removed (``<br>`` becomes a space) and no ``<`` left that
    could start one: a remaining ``<`` becomes ``&lt;``, which plotly shows as ``<``.

    ``'<a href="https://x">click</a>'`` gives ``'click'``; ``'a<b'`` is shown as ``a<b``.
    """
    label = "" if text is None else str(text)
    if "<" not in label:
        return label
    previous = None
    while previous != label:  # "<<b>a href=x>" hides a tag behind another one
        previous = label
        label = _TAG.sub(lambda m: " " if _BREAK.match(m.group(0)) else "", label)
    return " ".join(label.replace("<", "&lt;").split())
