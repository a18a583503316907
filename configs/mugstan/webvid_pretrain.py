# Mug-STAN-B/32 post-pretraining on WebVid ([M] §IV-B): sparse sampling of 12 frames at
# 224 px, 64 tokens, global batch 1024 (= 32 GPUs x 32), AdamW weight decay 0.001,
# lr 4e-6 CLIP / 4e-5 STAN, cosine, 3 epochs, contrastive loss only.
_base_ = [
    '../_base_/models/stan_retrieval_b32.py',
    '../_base_/datasets/retrieval.py', '../_base_/schedules/adamw_cosine_retrieval.py'
]
data_root = 'data/webvid'
context_length = 64


def _with(pipeline):
    return [dict(step, context_length=context_length) if step['type'] == 'OpenCLIPTokenize'
            else step for step in pipeline]


model = dict(head=dict(type='MugHead', mode='mug'))
train_dataloader = dict(batch_size=32, dataset=dict(
    data_root=data_root, ann_file='results_2M_train.json', pipeline=_with(_base_.train_pipeline)))
val_dataloader = dict(dataset=dict(
    data_root='data/msrvtt', ann_file='test_1k.json', pipeline=_with(_base_.test_pipeline)))
test_dataloader = val_dataloader
val_evaluator = dict(type='TextVideoRetrievalMetric', head=dict(type='MugHead', mode='mug'))
test_evaluator = val_evaluator
max_epochs = 3
train_cfg = dict(max_epochs=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=4e-6, weight_decay=0.001))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=0.5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 0.5, eta_min=0.0, by_epoch=True,
         begin=0.5, end=max_epochs, convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=1024)
