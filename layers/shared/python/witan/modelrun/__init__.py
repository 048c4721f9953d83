"""Model-run orchestration: plan (fit once) -> chunks of simulations -> aggregate, over a storage port.

The same code runs in a local process pool (`witan model run`) and in Step Functions (functions/model_run).
"""
