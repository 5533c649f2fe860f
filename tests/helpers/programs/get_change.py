"""A program that makes a change batch and asks for it with GetChange, then for a change it
was never given."""

import os

import boto3

route53 = boto3.client("route53")
zone = route53.list_hosted_zones_by_name(DNSName=os.environ["REPRODUCER_ZONE"])
zone_id = zone["HostedZones"][0]["Id"]
name = "check." + os.environ["REPRODUCER_ZONE"]
change = route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={
    "Comment": "a check", "Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
        "Name": name, "Type": "TXT", "TTL": 60, "ResourceRecords": [{"Value": '"ok"'}]}}]})
got = route53.get_change(Id=change["ChangeInfo"]["Id"])["ChangeInfo"]
assert got["Status"] == "INSYNC" and got["Comment"] == "a check", got
try:
    route53.get_change(Id="/change/CNEVERGIVENXYZ")
except route53.exceptions.NoSuchChange:
    pass
else:
    raise AssertionError("a change never given must be NoSuchChange")
