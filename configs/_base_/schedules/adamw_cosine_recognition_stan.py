# STAN recognition finetuning recipe ([S] §4.1: "learning rate 2e-6 for the CLIP
# parameters and 2e-5 for the STAN parameters ... for all datasets", weight decay 0.02,
# batch 128, cosine schedule). [S] writes "Adam" with weight decay; we keep AdamW as the
# official configs do. Everything else (warmup, betas, clipping, 30 epochs with 5 warmup
# epochs) is shared with the Mug-STAN recipe and is our choice: no paper gives epochs or
# warmup.
_base_ = ['./adamw_cosine_recognition.py']

optim_wrapper = dict(optimizer=dict(lr=2e-6))
