# LSMDC (one caption per clip): train on LSMDC16 training, test on the 1,000-clip retrieval
# benchmark (LSMDC16_challenge_1000_publictect.csv -> test_1k.json, as STAN Table 3,
# CLIP4Clip and Frozen report); files from tools/data/prepare_retrieval.py. The ~10k-sentence
# public test (LSMDC16_annos_test.csv) is test_10k.json.
_base_ = ['./retrieval.py']

data_root = 'data/lsmdc'
train_dataloader = dict(dataset=dict(data_root=data_root, ann_file='train.json'))
val_dataloader = dict(dataset=dict(data_root=data_root, ann_file='test_1k.json'))
test_dataloader = val_dataloader
