# MSVD, every caption of a test video is a query (multi-caption); files from tools/data/prepare_retrieval.py.
_base_ = ['./retrieval.py']

data_root = 'data/msvd'
train_dataloader = dict(dataset=dict(data_root=data_root, ann_file='train.json'))
val_dataloader = dict(dataset=dict(data_root=data_root, ann_file='test.json'))
test_dataloader = val_dataloader
