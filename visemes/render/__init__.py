"""The neural renderer path: re-animate a real, consenting person's mouth from speech (GPU; small on CPU).

``visemes render prepare`` -> ``train`` -> ``run`` (and ``eval``): see
:mod:`visemes.render.pipeline`. Heavy dependencies (OpenCV, ffmpeg) come with
``pip install 'visemes[render]'``. Everything it writes is labelled as AI output.
"""
