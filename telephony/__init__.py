"""The Twilio boundary: webhooks, signatures, TwiML, calls, the waiting-caller queue, the
provider client and the simulator. Imports only ``app.core``."""
