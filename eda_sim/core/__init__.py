"""The world every layer shares: the simulation and its virtual clock, the journal, spans, and Kafka's error vocabulary.

Also the one definition of each number the course shows (:mod:`.measures`) and
the one replay of the journal that every picture and table reads
(:mod:`.replay`).
"""
