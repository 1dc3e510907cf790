"""Webhooks: their management and the events a run's lifecycle emits (webhooks), and sending them
with retries and a delivery log (deliveries).
"""
