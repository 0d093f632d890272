"""2captcha-protocol client for the login reCAPTCHA."""
