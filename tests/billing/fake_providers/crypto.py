"""Keys and signatures the fakes use (written here from the providers' documentation)."""

import base64
import datetime
from dataclasses import dataclass
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class KeyPair:
    private: rsa.RSAPrivateKey

    @property
    def public(self):
        return self.private.public_key()

    def private_pem(self) -> str:
        return self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    def public_pem(self) -> str:
        return self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def sign(self, message: str) -> str:
        """SHA256withRSA (Alipay's RSA2, WeChat Pay's WECHATPAY2-SHA256-RSA2048), base64."""
        signature = self.private.sign(message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()

    def verify(self, message: str, signature: str) -> bool:
        try:
            self.public.verify(
                base64.b64decode(signature), message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256()
            )
        except Exception:  # noqa: BLE001 - any failure is a bad signature
            return False
        return True


@cache
def key_pair(name: str) -> KeyPair:
    """One key per name for the whole test session (2048-bit keys take a while to make)."""
    return KeyPair(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def self_signed_certificate(keys: KeyPair, serial: int) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fake WeChat Pay platform")])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(keys.public)
        .serial_number(serial)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(keys.private, hashes.SHA256())
    )


def aes_gcm_encrypt(key: str, plaintext: str, associated_data: str, nonce: str) -> str:
    sealed = AESGCM(key.encode()).encrypt(nonce.encode(), plaintext.encode("utf-8"), associated_data.encode())
    return base64.b64encode(sealed).decode()
