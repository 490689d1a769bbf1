"""The load: Locust (:mod:`.locustfile`, run by :mod:`.locustrun`), the lab's own HTTP
client (:mod:`.client`) and slow clients that trickle (:mod:`.trickle`)."""
