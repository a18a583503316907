# MSR-VTT 9k train / 1k-A test (one caption per test video); files from tools/data/prepare_retrieval.py.
_base_ = ['./retrieval.py']

data_root = 'data/msrvtt'
train_dataloader = dict(dataset=dict(data_root=data_root, ann_file='train_9k.json'))
val_dataloader = dict(dataset=dict(data_root=data_root, ann_file='test_1k.json'))
test_dataloader = val_dataloader
