// Alerts to one action group:
//  - a message moved to a poison queue (the poison queue grew): a log alert on
//    the Functions host's own log line, because Storage queue metrics exist only
//    per account, not per queue;
//  - failed function executions (App Insights requests/failed).

param namePrefix string
param location string = resourceGroup().location
param tags object = {}
param applicationInsightsName string
@description('Email receiver; empty leaves the action group without receivers (add them in the portal).')
param alertEmail string = ''
param poisonQueueNames array

@description('Failed executions in 15 minutes that raise the failure alert.')
param failureThreshold int = 5

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-${namePrefix}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'synapse'
    enabled: true
    emailReceivers: empty(alertEmail) ? [] : [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

resource functionFailures 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'ma-${namePrefix}-function-failures'
  location: 'global'
  tags: tags
  properties: {
    description: 'Function executions (queue, timer or HTTP) are failing.'
    severity: 2
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'failedRequests'
          metricNamespace: 'microsoft.insights/components'
          metricName: 'requests/failed'
          operator: 'GreaterThan'
          threshold: failureThreshold
          timeAggregation: 'Count'
        }
      ]
    }
    autoMitigate: true
    actions: [
      {
        actionGroupId: actionGroup.id
      }
    ]
  }
}

// The WebJobs queue listener logs "Message has reached MaxDequeueCount of N.
// Moving message to queue '<name>-poison'." every time it poisons a message.
var poisonQuery = '''
traces
| where message has "MaxDequeueCount" and message has "-poison"
| extend queue = extract(@"queue '([^']+)'", 1, message)
| where queue in (dynamic(QUEUES))
| summarize moved = count() by queue
'''

resource poisonMessages 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: 'sqr-${namePrefix}-poison-messages'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Synapse: messages moved to a poison queue'
    description: 'A queue message failed maxDequeueCount times and now waits in <queue>-poison. See docs/deploy.md (Poison messages).'
    severity: 1
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: replace(poisonQuery, 'QUEUES', string(poisonQueueNames))
          timeAggregation: 'Total'
          metricMeasureColumn: 'moved'
          dimensions: [
            {
              name: 'queue'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: false
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

output actionGroupId string = actionGroup.id
