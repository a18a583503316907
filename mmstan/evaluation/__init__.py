from .retrieval_metric import TextVideoRetrievalMetric, dual_softmax, qb_norm, ranks_of, recall_summary

__all__ = ['TextVideoRetrievalMetric', 'dual_softmax', 'qb_norm', 'ranks_of', 'recall_summary']
