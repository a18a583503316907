# Zero-shot HMDB51 recognition ([M] Table I): a post-pretrained Mug-STAN-B/32 scores each
# video against the bare class names encoded by its own text tower. Test only:
#   python tools/test.py configs/mugstan/zeroshot_hmdb51.py work_dirs/webvid_pretrain/epoch_3.pth
_base_ = [
    '../_base_/default_runtime.py', '../_base_/models/clip_preprocessor.py',
    '../_base_/datasets/hmdb51.py'
]
pretrain = 'work_dirs/webvid_pretrain/epoch_3.pth'
model = dict(
    type='Recognizer3D',
    backbone=dict(type='CLIPSTAN', arch='ViT-B-32', num_frames=12, num_layers=4),
    cls_head=dict(type='TextClassHead', classes='data/hmdb51/label_map.txt', arch='ViT-B-32',
                  text_weights=pretrain, average_clips='prob'),
    data_preprocessor={{_base_.clip_preprocessor}})


def _with_frames(pipeline, clip_len=12):
    return [dict(step, clip_len=clip_len) if step['type'] == 'UniformSample' else step
            for step in pipeline]


test_dataloader = dict(dataset=dict(pipeline=_with_frames(_base_.test_pipeline)))
test_evaluator = dict(type='AccMetric')
test_cfg = dict(type='TestLoop')
