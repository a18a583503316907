from .ava_metric import AVAMetric, current_work_dir
from .retrieval_metric import TextVideoRetrievalMetric, dual_softmax, qb_norm, ranks_of, recall_summary

__all__ = ['AVAMetric', 'TextVideoRetrievalMetric', 'current_work_dir', 'dual_softmax', 'qb_norm',
           'ranks_of', 'recall_summary']
