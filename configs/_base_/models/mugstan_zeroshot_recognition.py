# Zero-shot recognition ([M] Table I) with a post-pretrained Mug-STAN-B/32: each video is
# scored against bare class names encoded by the checkpoint's own text tower. Configs set
# `model.cls_head.classes` to their label map. Test only:
#   python tools/test.py configs/mugstan/zeroshot_<name>.py work_dirs/webvid_pretrain/epoch_3.pth
_base_ = ['./clip_preprocessor.py']
pretrain = 'work_dirs/webvid_pretrain/epoch_3.pth'
zeroshot_frames = 12
model = dict(
    type='Recognizer3D',
    backbone=dict(type='CLIPSTAN', arch='ViT-B-32', num_frames=zeroshot_frames, num_layers=4),
    cls_head=dict(type='TextClassHead', arch='ViT-B-32', text_weights=pretrain,
                  average_clips='prob'),
    data_preprocessor={{_base_.clip_preprocessor}})
zeroshot_test_pipeline = [
    dict(type='DecordInit'),
    dict(type='UniformSample', clip_len=zeroshot_frames, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='ThreeCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_cfg = dict(type='TestLoop')
