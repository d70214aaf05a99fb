// Data-plane role assignments: each identity gets exactly what it uses.
//
//   api   Storage Blob Data Owner (deployment package container + host leases),
//         Storage Queue Data Contributor (trigger listens, poison queues),
//         Storage Queue Data Message Processor + Message Sender (dequeue, enqueue outbox),
//         Storage Table Data Contributor (timer/host bookkeeping on Flex),
//         Monitoring Metrics Publisher (App Insights with Entra auth)
//   relay Storage Queue Data Message Sender (enqueue envelopes only),
//         Monitoring Metrics Publisher
//   user  (optional) queue + blob data roles to inspect queues while debugging

param storageAccountName string
param applicationInsightsName string
param apiPrincipalId string
param relayPrincipalId string
param userPrincipalId string = ''
param userPrincipalType string = 'User'

// Built-in role definition ids (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles)
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageQueueDataMessageProcessor: '8a0f0c08-91a1-4084-bc3d-661d67233fed'
  storageQueueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

var apiStorageRoles = [
  roles.storageBlobDataOwner
  roles.storageQueueDataContributor
  roles.storageQueueDataMessageProcessor
  roles.storageQueueDataMessageSender
  roles.storageTableDataContributor
]

var userStorageRoles = [
  roles.storageBlobDataOwner
  roles.storageQueueDataContributor
]

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource apiStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in apiStorageRoles: {
  name: guid(storageAccount.id, apiPrincipalId, roleId)
  scope: storageAccount
  properties: {
    principalId: apiPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
  }
}]

resource relayQueueSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storageAccount.id, relayPrincipalId, roles.storageQueueDataMessageSender)
  scope: storageAccount
  properties: {
    principalId: relayPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataMessageSender)
  }
}

resource metricsPublishers 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for principal in [apiPrincipalId, relayPrincipalId]: {
  name: guid(applicationInsights.id, principal, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    principalId: principal
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
  }
}]

resource userStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in (empty(userPrincipalId) ? [] : userStorageRoles): {
  name: guid(storageAccount.id, userPrincipalId, roleId)
  scope: storageAccount
  properties: {
    principalId: userPrincipalId
    principalType: userPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
  }
}]
