"""What only the notebooks need: exercise checks, panels and figures, and the generator.

    checks      the exercise framework: PASS / FAIL / TODO verdicts, the learner's score
    widgets     the shared base of the interactive panels (stage sliders)
    plots       figures more than one notebook shows
    nbNN_*      one module per notebook: its checks, panels and figures
    generate    student notebooks from solutions/ (nbgrader's ClearSolutions), the
                authoring rules, nbgrader metadata from the cell tags
    commands    ``python -m hwnas_lab notebooks [--check | --time PRESET ...]``

Algorithm modules (``hwnas_lab.latency``, ``ofa``, ...) never import from here.
"""
