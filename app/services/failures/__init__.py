"""What follows a failed run: its retry or burial (retries) and the retry queue with its manual
actions (retry_queue).
"""
