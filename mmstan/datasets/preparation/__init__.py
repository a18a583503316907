"""Dataset preparation: each dataset's own annotation files -> mmaction2 video lists
(recognition) or mmstan's caption JSON (retrieval), behind ``tools/data/prepare_*.py``.

- :mod:`.annotation_files`: reading CSV / line / JSON annotations, one error line per mistake;
- :mod:`.recognition`: K400, SSv2, UCF101, HMDB51 (:func:`prepare_recognition`);
- :mod:`.retrieval`: MSR-VTT, DiDeMo, LSMDC, MSVD, WebVid (:func:`prepare_retrieval`).
"""
from .recognition import prepare_recognition
from .retrieval import prepare_retrieval

__all__ = ['prepare_recognition', 'prepare_retrieval']
