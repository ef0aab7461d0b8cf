"""`make faults`: the service under injected faults (SIGKILLed and SIGTERMed workers, Redis
killed, full, paused, its connections cut; concurrent crons and enqueues), every acknowledged
job accounted for against a delivery ledger kept outside Redis.

    python -m faults.run [--quick] [--into docs/reliability.json]
"""
