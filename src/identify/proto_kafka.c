/*
 * proto_kafka.c - Apache Kafka wire protocol (kafka.apache.org/protocol,
 * "Common Request and Response Structure").
 *
 * The client speaks first; every message is size-prefixed, big endian:
 *
 *   request:  size(4)  api_key(2)  api_version(2)  correlation_id(4)
 *             client_id(2-byte length, -1 null, then bytes) ...
 *   response: size(4)  correlation_id(4)  ...
 *
 *   api_key 0..74 (0 Produce, 1 Fetch, 3 Metadata, 18 ApiVersions,
 *   17 SaslHandshake, 36 SaslAuthenticate ...), api_version 0..20
 *
 * The response echoes the request's correlation id: with the size fields
 * adding up this is what identifies the flow. A request alone (server
 * silent) is claimed only when its size matches the bytes exactly and the
 * client id is a printable name.
 */
#include "common/reader.h"
#include "identify/identify.h"

#define KAFKA_MSG_MAX (100u * 1024 * 1024) /* socket.request.max.bytes */
#define KAFKA_API_MAX 74

static const char *const kafka_apis[] = {
    "Produce", "Fetch", "ListOffsets", "Metadata", "LeaderAndIsr", "StopReplica",
    "UpdateMetadata", "ControlledShutdown", "OffsetCommit", "OffsetFetch", "FindCoordinator",
    "JoinGroup", "Heartbeat", "LeaveGroup", "SyncGroup", "DescribeGroups", "ListGroups",
    "SaslHandshake", "ApiVersions", "CreateTopics", "DeleteTopics", "DeleteRecords",
    "InitProducerId", "OffsetForLeaderEpoch", "AddPartitionsToTxn", "AddOffsetsToTxn", "EndTxn",
    "WriteTxnMarkers", "TxnOffsetCommit", "DescribeAcls", "CreateAcls", "DeleteAcls",
    "DescribeConfigs", "AlterConfigs", "AlterReplicaLogDirs", "DescribeLogDirs",
    "SaslAuthenticate", "CreatePartitions", "CreateDelegationToken", "RenewDelegationToken",
    "ExpireDelegationToken", "DescribeDelegationToken", "DeleteGroups",
};

static enum ident_verdict kafka_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct reader c, s;
	rd_init(&c, in->data[0], in->len[0]);
	rd_init(&s, in->data[1], in->len[1]);
	if (!rd_has(&c, 14)) {
		/* the rest of the header may come even when the server spoke
		 * (NO_MATCH is final), unless its size is impossible */
		uint32_t rsize = rd_be32(&s);
		if (in->done[0] || (rd_ok(&s) && (rsize < 4 || rsize > KAFKA_MSG_MAX)))
			return IDENT_NO_MATCH;
		return IDENT_NEED_MORE;
	}
	uint32_t size = rd_be32(&c);
	uint16_t api = rd_be16(&c), ver = rd_be16(&c);
	uint32_t corr = rd_be32(&c);
	uint16_t idlen = rd_be16(&c);
	if (size < 10 || size > KAFKA_MSG_MAX || api > KAFKA_API_MAX || ver > 20 ||
	    corr > 0x7fffffffu)
		return IDENT_NO_MATCH;
	/* the server's size, when here, rules out at once (as above: a
	 * verdict that does not wait for the client id, NO_MATCH is final) */
	{
		struct reader t = s;
		uint32_t rsize = rd_be32(&t);
		if (rd_ok(&t) && (rsize < 4 || rsize > KAFKA_MSG_MAX))
			return IDENT_NO_MATCH;
	}
	const uint8_t *cid = NULL;
	size_t cid_len = 0;
	if (idlen != 0xffff) {
		/* an empty client id: clients name themselves or send null; zero
		 * bytes here are what other length-prefixed protocols have
		 * (ZooKeeper's ConnectRequest: a zero zxid) */
		if (idlen == 0 || idlen > 512 || 10u + idlen > size)
			return IDENT_NO_MATCH;
		if (!rd_has(&c, idlen))
			return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
		if (!rd_printable(&c, idlen))
			return IDENT_NO_MATCH;
		cid = rd_bytes(&c, idlen);
		cid_len = idlen;
	}
	/* the response: size, then the same correlation id */
	if (!rd_has(&s, 8)) {
		if (!in->done[1])
			return IDENT_NEED_MORE;
		if (in->len[1] > 0 || in->len[0] > size + 4u || cid_len == 0)
			return IDENT_NO_MATCH;
		/* the rest of the request may still come (NO_MATCH is final) */
		if (in->len[0] < size + 4u)
			return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
		ev->confidence = 60;
	} else {
		uint32_t rsize = rd_be32(&s);
		uint32_t rcorr = rd_be32(&s);
		if (rsize < 4 || rsize > KAFKA_MSG_MAX || rcorr != corr)
			return IDENT_NO_MATCH;
		ev->server_confirmed = true;
		ev->confidence = 100;
	}
	if (api < sizeof kafka_apis / sizeof kafka_apis[0])
		ident_add_str(ev, "kafka_api", kafka_apis[api]);
	else
		ident_add_u64(ev, "kafka_api", api);
	ident_add_u64(ev, "kafka_api_version", ver);
	if (cid)
		ident_add(ev, "kafka_client_id", cid, cid_len);
	return IDENT_MATCH;
}

const struct ident_proto ident_kafka = {"kafka", "Apache Kafka wire protocol", IDENT_TCP, kafka_match, NULL, NULL};
