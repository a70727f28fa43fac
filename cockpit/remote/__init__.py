"""Many hosts (SPEC §9): the wire, the SSH transport and `cockpit serve --stdio`."""
