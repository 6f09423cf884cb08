"""``python -m vmc demo``: the browser demo (a Gradio page over the inference of ``infer.py``).

One job a module:

* :mod:`vmc.demo.jobs`: the job runner. It keeps the models loaded between requests, reuses a
  prepared person when the same photos come back (keyed by a hash of their pixels), runs one
  job at a time per device, and makes the files with the functions ``infer.py`` uses
  (:mod:`vmc.tasks.infer`): there is no second code path.
* :mod:`vmc.demo.progress`: the stages of a job (fit, motion, texture, frames, encoding), their
  expected seconds and the time left.
* :mod:`vmc.demo.errors`: a bad input becomes one message for the page, never a traceback.
* :mod:`vmc.demo.app`: the page (Gradio, an optional dependency: ``pip install -e ".[demo]"``)
  and the server's life (address, temporary folder, Ctrl-C).

The layer sits between ``tasks`` and ``cli`` (:data:`vmc.utils.import_graph.LAYERS`).
"""
