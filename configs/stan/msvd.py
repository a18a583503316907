# STAN-B/32 retrieval on MSVD, multi-caption test (paper STAN-B/32: R@1 47.8).
_base_ = [
    '../_base_/models/stan_retrieval_b32.py',
    '../_base_/datasets/retrieval.py', '../_base_/schedules/adamw_cosine_retrieval.py'
]
data_root = 'data/msvd'
train_dataloader = dict(dataset=dict(data_root=data_root, ann_file='train.json'))
val_dataloader = dict(dataset=dict(data_root=data_root, ann_file='test.json'))
test_dataloader = val_dataloader
val_evaluator = dict(type='TextVideoRetrievalMetric', head={{_base_.model.head}})
test_evaluator = val_evaluator
