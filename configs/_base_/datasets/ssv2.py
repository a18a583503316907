# Something-Something V2 in mmaction2's layout (see README "Datasets"): 174 classes.
_base_ = ['./video_recognition.py']
from mmstan.utils.pipeline_edit import without_steps  # noqa: E402

data_root = 'data/sthv2'
label_map = 'data/sthv2/label_map.txt'  # class names, one per line (Mug-STAN's text head)
num_classes = 174
# SSv2 has left/right classes: no horizontal flip.
train_pipeline = without_steps(_base_.train_pipeline, 'Flip')
train_dataloader = dict(dataset=dict(
    data_root=data_root, ann_file='sthv2_train_list_videos.txt', data_prefix=dict(video='videos'),
    pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(
    data_root=data_root, ann_file='sthv2_val_list_videos.txt', data_prefix=dict(video='videos')))
test_dataloader = dict(dataset=dict(
    data_root=data_root, ann_file='sthv2_val_list_videos.txt', data_prefix=dict(video='videos')))
