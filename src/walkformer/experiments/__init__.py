"""Named reproductions: one preset per paper figure, run over several seeds.

An :class:`Experiment` is a set of variants (a label and its config overrides), each
run for ``seeds`` seeds, and an ``analyse`` function that turns the finished runs into
the paper-style figures and ``claims.json``: a list of
``{"id", "claim", "paper", "measured", "holds"}`` whose ``holds`` is computed from the
measured numbers. An optional ``differences`` function turns the claims into
``differences.json``: where we differ from the paper, with the numbers and the
controlled experiment behind each difference (see :func:`difference`); the report
(``walkformer report``) shows both. An optional ``questions`` function turns the claims
into ``questions.json``: the reviewers' questions the preset answers (see
:func:`question`), one row each in the front page's "The reviewers' questions". A control
variant may run fewer seeds than the others (``variant_seeds``). ``tier="extended"``
keeps a costly preset out of ``reproduce all`` (``make reproduce``); ``reproduce
extended`` (``make reproduce-extended``) runs every preset.

Layout of ``walkformer reproduce NAME --out DIR``::

    DIR/NAME/claims.json, DIR/NAME/*.png, DIR/NAME/runs/<variant>/seed<k>/...

Runs already finished (their directory verifies: ``rundir.damage``) are not run again,
so an interrupted reproduction resumes where it stopped.
"""

# the API of experiments (core.py); the preset modules below import from core, not from here
from .core import (KINDS, REGISTRY, TIERS, Experiment, claim, counted, describe, difference,  # noqa: F401
                   is_identity, load_claims, load_run, question, register, run_all, selection, stat, tally)

from . import randomwalk, beyond, phases  # noqa: F401  (register the presets)
from . import markov, markov_grid  # noqa: F401  (binary Markov chains, gpt model)
from . import canonical  # noqa: F401  (Local to Global: the canonical model, exact)
from . import lemmas  # noqa: F401  (Shi & Cao Lemmas C.5, C.7: parent attention against M)
from . import no_position  # noqa: F401  (the rebuttal's no-position statement against the bag-of-states optimum)
from . import value_law  # noqa: F401  (issue 12: V tends to (Πᵀ)^∘½ under the ε-log-loss)
from . import reviewers  # noqa: F401  (issue 15: the reviewers' questions on 1/√d scaling and the residual)
from . import reviewers_qk  # noqa: F401  (issue 15: the reviewers' question on W = W_Kᵀ W_Q)
from . import rev_positions  # noqa: F401  (issue 15: the reviewers' question on positional schemes)
from . import rev_pretrain  # noqa: F401  (issue 16: pretrain by next-token prediction, then fine-tune Task 2)
from . import rev_deterministic  # noqa: F401  (issue 16 item 5: getting p ∈ {0, 1} to learn)
from . import rev_depth  # noqa: F401  (issue 15 item 6: the reviewers' question on depth and heads)
from . import rev_bias, rev_samples  # noqa: F401  (issues 15, 16: biases in the ReLU head (5AGb); sample size and the depth-0 baseline (ki3b))
from . import rev_lag, rev_order  # noqa: F401  (issue 16: a parent at lag k; second-order chains)
from . import rev_init  # noqa: F401  (issue 15 item 7: interpretability under larger random init)
from . import rev_jumps  # noqa: F401  (issue 16 item 7: sudden jumps and the token average)
from . import rev_graphs  # noqa: F401  (issue 16 item 1: other graphs and arbitrary chains)
