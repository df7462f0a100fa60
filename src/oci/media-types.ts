// Media types and annotation keys, in one place (Flux keeps them in constants.go).
// OCI image spec: https://github.com/opencontainers/image-spec/blob/main/media-types.md

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const OCI_IMAGE_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

/** The empty JSON blob `{}` (OCI image spec, "Guidance for an Empty Descriptor"). */
export const EMPTY_JSON = new Uint8Array([0x7b, 0x7d]);
export const EMPTY_JSON_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

export const BUNDLE_ARTIFACT = 'application/vnd.promote.bundle.v1';
export const BUNDLE_CONFIG = 'application/vnd.promote.bundle.config.v1+json';
export const BUNDLE_CONTENT = 'application/vnd.promote.bundle.content.v1.tar+gzip';
export const PROMOTION_RECORD = 'application/vnd.promote.promotion.v1+json';
export const STATUS_REPORT = 'application/vnd.promote.status.v1+json';
export const APPROVAL = 'application/vnd.promote.approval.v1+json';

export const COSIGN_SIMPLESIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIGSTORE_BUNDLE_V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';

export const ANNOTATION_CREATED = 'org.opencontainers.image.created';
export const ANNOTATION_SOURCE = 'org.opencontainers.image.source';
export const ANNOTATION_REVISION = 'org.opencontainers.image.revision';
export const ANNOTATION_VERSION = 'org.opencontainers.image.version';
export const ANNOTATION_TITLE = 'org.opencontainers.image.title';
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';

/** Manifests larger than this are refused on read and write (distribution's limit, REGISTRY-NOTES.md). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** What we send as Accept when reading manifests: distribution 2.8 404s without the OCI types. */
export const MANIFEST_ACCEPT = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST];
