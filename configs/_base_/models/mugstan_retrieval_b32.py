# Mug-STAN-B/32 video-text retriever: STAN-B/32 with Mug alignment ([M] eqs. 11-18).
_base_ = ['./stan_retrieval_b32.py']

model = dict(head=dict(_delete_=True, type='MugHead', mode='mug'))
