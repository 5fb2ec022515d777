// Owns the version netmaster reports (/version, /info, the OpenAPI document).
export const VERSION = '0.1.0';
