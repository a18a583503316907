from .ava_metric import WorkDirAVAMetric, current_work_dir
from .retrieval_metric import TextVideoRetrievalMetric, dual_softmax, qb_norm, ranks_of, recall_summary

__all__ = ['TextVideoRetrievalMetric', 'WorkDirAVAMetric', 'current_work_dir', 'dual_softmax',
           'qb_norm', 'ranks_of', 'recall_summary']
